"""A person's words for every audit action, so that the audit trail reads without the codes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from marketplace.ordering.states import event_label

#: actions that are not about one order (those are named in marketplace.ordering.states)
ACTION_LABELS = {
    "agency.save": _l("Agency saved"),
    "api_token.create": _l("API token created"),
    "api_token.revoke": _l("API token revoked"),
    "budget.close_year": _l("Fiscal year closed"),
    "budget.create_line": _l("Budget line created"),
    "budget.freeze": _l("Budget line frozen"),
    "budget.unfreeze": _l("Budget line unfrozen"),
    "category.save": _l("Category saved"),
    "document.expire": _l("Vendor document expired"),
    "document.expiry_warning": _l("Vendor document expiry warning sent"),
    "document.reject": _l("Vendor document rejected"),
    "document.upload": _l("Vendor document uploaded"),
    "document.verify": _l("Vendor document verified"),
    "finance.explain": _l("Finance exception explained"),
    "period.close": _l("Accounting period closed"),
    "product.add_photo": _l("Product photo added"),
    "product.approve": _l("Product approved"),
    "product.create": _l("Product created"),
    "product.delist": _l("Product taken off sale"),
    "product.import": _l("Products imported"),
    "product.reject": _l("Product rejected"),
    "product.remove_photo": _l("Product photo removed"),
    "product.update": _l("Product updated"),
    "tax_rule.create": _l("Tax rule created"),
    "tax_rule.end": _l("Tax rule ended"),
    "tax_rule.update": _l("Tax rule updated"),
    "unit_cost.set": _l("Unit cost set"),
    "user.change_password": _l("Password changed"),
    "user.create": _l("User created"),
    "user.end_other_sessions": _l("Other sessions ended"),
    "user.lockout": _l("Account locked after failed sign-ins"),
    "user.logout": _l("Signed out"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.recovery_codes_new": _l("New recovery codes made"),
    "user.two_factor_off": _l("Two-step verification turned off"),
    "user.two_factor_on": _l("Two-step verification turned on"),
    "user.two_factor_reset": _l("Two-step verification reset"),
    "vendor.capacity": _l("Vendor capacity changed"),
    "vendor.close_day": _l("Vendor closed a day"),
    "vendor.register": _l("Vendor registered"),
    "vendor.reopen_day": _l("Vendor reopened a day"),
    "vendor.tax_registration": _l("Vendor tax registration changed"),
    "vendor.verify": _l("Vendor verified"),
}


def action_label(action: str) -> str:
    """The label of any audit action; an unknown code is shown as it is."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    return event_label(action)
