// The cart page without reloads: a quantity change or a removal is sent with the same form, to
// the same address, asking for JSON; the server checks it exactly as it checks the form, and its
// answer updates the line, the vendor's subtotal and the total in place. Anything unexpected
// (an expired session, a refused form token) falls back to sending the form the ordinary way.
(function () {
  'use strict';
  var cart = document.querySelector('[data-cart]');
  if (!cart || !window.fetch || !window.FormData) { return; }
  var status = document.getElementById('cart-status');
  // The server checks every quantity and its answer is shown next to the line, so the
  // browser's own bubble would only say the same thing twice, differently.
  cart.querySelectorAll('.qty-form').forEach(function (form) { form.noValidate = true; });
  var pending = new WeakMap();
  var timers = new WeakMap();

  function announce(text) {
    // Emptied first so that the same words twice in a row are still read out.
    status.textContent = '';
    setTimeout(function () { status.textContent = text; }, 50);
  }

  function highlight(element) {
    element.classList.remove('just-updated');
    void element.offsetWidth; // restart the highlight
    element.classList.add('just-updated');
  }

  function showError(row, text) {
    var error = row.querySelector('.line-error');
    var input = row.querySelector('input[name="quantity"]:not([type="hidden"])');
    if (!error) { return; }
    error.textContent = text || '';
    error.hidden = !text;
    if (input) {
      if (text) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', error.id);
      } else {
        input.removeAttribute('aria-invalid');
        input.removeAttribute('aria-describedby');
      }
    }
  }

  function quantityInputs() {
    return Array.prototype.slice.call(cart.querySelectorAll('.qty-form input[name="quantity"]'));
  }

  function apply(answer) {
    var lines = {};
    answer.lines.forEach(function (line) { lines[line.id] = line; });
    var orders = {};
    answer.orders.forEach(function (order) { orders[order.order_id] = order; });
    var inputsBefore = quantityInputs();
    var focusIndex = -1;

    cart.querySelectorAll('tr[data-line]').forEach(function (row) {
      var line = lines[row.dataset.line];
      if (!line) {
        if (row.contains(document.activeElement)) {
          focusIndex = inputsBefore.indexOf(row.querySelector('.qty-form input[name="quantity"]'));
        }
        row.remove();
        return;
      }
      var cell = row.querySelector('[data-line-total]');
      if (cell.textContent !== line.total_text) {
        cell.textContent = line.total_text;
        highlight(cell);
      }
      var input = row.querySelector('.qty-form input[name="quantity"]');
      if (input !== document.activeElement) { input.value = line.quantity; }
    });
    cart.querySelectorAll('[data-order]').forEach(function (section) {
      var order = orders[section.dataset.order];
      if (!order) { section.remove(); return; }
      var cell = section.querySelector('[data-order-subtotal]');
      if (cell.textContent !== order.subtotal_text) {
        cell.textContent = order.subtotal_text;
        highlight(cell);
      }
    });
    var total = cart.querySelector('[data-cart-total]');
    if (total.textContent !== answer.total_text) {
      total.textContent = answer.total_text;
      highlight(total);
    }
    // Checkout submits exactly the orders the person now sees.
    document.querySelectorAll('input[name="order_ids"]').forEach(function (field) {
      field.value = answer.order_ids;
    });
    if (focusIndex >= 0) {
      // The removed line had the focus: give it to the line that took its place.
      var inputs = quantityInputs();
      var next = inputs[Math.min(focusIndex, inputs.length - 1)];
      if (next) { next.focus(); }
    }
  }

  function send(form) {
    var row = form.closest('tr[data-line]');
    if (!row) { form.submit(); return; }
    clearTimeout(timers.get(row));
    var previous = pending.get(row);
    if (previous) { previous.abort(); }
    var controller = new AbortController();
    pending.set(row, controller);
    row.setAttribute('aria-busy', 'true');
    fetch(form.action, {
      method: 'POST',
      body: new FormData(form),
      headers: { 'Accept': 'application/json' },
      credentials: 'same-origin',
      signal: controller.signal
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (type.indexOf('application/json') === -1) {
        // Not an answer this script understands: let the server handle the plain form.
        form.submit();
        return null;
      }
      return response.json().then(function (answer) {
        if (!answer.ok) {
          showError(row, answer.message);
          return;
        }
        showError(row, '');
        if (answer.count === 0) { window.location.reload(); return; }
        apply(answer);
        announce(answer.message + ' ' + cart.dataset.totalLabel + ' ' + answer.total_text);
      });
    }).catch(function (error) {
      if (error.name !== 'AbortError') { showError(row, cart.dataset.networkError); }
    }).then(function () {
      if (pending.get(row) === controller) {
        pending.delete(row);
        row.removeAttribute('aria-busy');
      }
    });
  }

  cart.addEventListener('submit', function (event) {
    var form = event.target;
    if (!form.matches('.qty-form, .remove-form')) { return; }
    event.preventDefault();
    send(form);
  });

  // A changed quantity (typed and left, or stepped with the arrows) is saved after a short
  // pause, so that several steps in a row make one request.
  cart.addEventListener('change', function (event) {
    var input = event.target;
    if (!input.matches('.qty-form input[name="quantity"]')) { return; }
    var row = input.closest('tr[data-line]');
    clearTimeout(timers.get(row));
    timers.set(row, setTimeout(function () { send(input.form); }, 400));
  });
})();
