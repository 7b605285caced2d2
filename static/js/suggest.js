// Suggestions under the catalogue's search box while the person types (the ARIA combobox
// pattern): arrow keys move through them, Enter searches for the chosen one, Escape closes the
// list. Without this script the box is a plain search field of the same form.
(function () {
  'use strict';
  var box = document.querySelector('[data-suggest]');
  if (!box || !window.fetch) { return; }
  var input = box.querySelector('input[type="search"]');
  var list = box.querySelector('[role="listbox"]');
  var status = box.querySelector('[role="status"]');
  var form = input.form;
  var MIN_CHARS = 2;
  var cache = new Map();
  var items = [];
  var active = -1;
  var timer = null;
  var controller = null;
  var lastQuery = null;

  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);
  input.setAttribute('autocomplete', 'off');

  function isOpen() { return !list.hidden; }

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function setActive(index) {
    var options = list.children;
    if (active >= 0 && options[active]) { options[active].setAttribute('aria-selected', 'false'); }
    active = index;
    if (active < 0) { input.removeAttribute('aria-activedescendant'); return; }
    var option = options[active];
    option.setAttribute('aria-selected', 'true');
    input.setAttribute('aria-activedescendant', option.id);
    option.scrollIntoView({ block: 'nearest' });
  }

  function render(suggestions) {
    items = suggestions;
    list.textContent = '';
    active = -1;
    input.removeAttribute('aria-activedescendant');
    suggestions.forEach(function (item, index) {
      var option = document.createElement('li');
      option.id = list.id + '-' + index;
      option.setAttribute('role', 'option');
      option.setAttribute('aria-selected', 'false');
      var name = document.createElement('span');
      name.className = 'suggestion-name';
      name.textContent = item.name;
      var category = document.createElement('span');
      category.className = 'suggestion-category';
      category.textContent = item.category;
      option.append(name, ' ', category);
      list.appendChild(option);
    });
    if (!suggestions.length) { close(); status.textContent = ''; return; }
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    var template = suggestions.length === 1 ? box.dataset.countOne : box.dataset.countMany;
    status.textContent = template.replace('{n}', String(suggestions.length));
  }

  function choose(index) {
    var item = items[index];
    if (!item) { return; }
    input.value = item.name;
    close();
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }

  function load() {
    var query = input.value.trim();
    if (query.length < MIN_CHARS) { lastQuery = null; render([]); return; }
    // A trailing space means the last word is finished; the server treats it so too.
    var key = input.value.replace(/^\s+/, '').replace(/\s+$/, ' ');
    if (key === lastQuery) { return; }
    lastQuery = key;
    if (cache.has(key)) { render(cache.get(key)); return; }
    if (controller) { controller.abort(); }
    controller = new AbortController();
    var url = box.dataset.url + '?q=' + encodeURIComponent(key);
    fetch(url, {
      headers: { 'Accept': 'application/json' },
      credentials: 'same-origin',
      signal: controller.signal
    }).then(function (response) {
      var type = response.headers.get('Content-Type') || '';
      if (!response.ok || type.indexOf('application/json') === -1) { return null; }
      return response.json();
    }).then(function (answer) {
      if (!answer) { return; }
      cache.set(key, answer.suggestions);
      if (key === lastQuery && document.activeElement === input) { render(answer.suggestions); }
    }).catch(function () { /* suggestions are a convenience: the search still works */ });
  }

  input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  });

  input.addEventListener('keydown', function (event) {
    var count = list.children.length;
    switch (event.key) {
      case 'ArrowDown':
        if (!isOpen()) {
          if (count) { list.hidden = false; input.setAttribute('aria-expanded', 'true'); setActive(0); }
          else { load(); }
        } else { setActive(active + 1 < count ? active + 1 : 0); }
        event.preventDefault();
        break;
      case 'ArrowUp':
        if (isOpen() && count) {
          setActive(active > 0 ? active - 1 : count - 1);
          event.preventDefault();
        }
        break;
      case 'Enter':
        if (isOpen() && active >= 0) {
          event.preventDefault();
          choose(active);
        }
        break;
      case 'Escape':
        if (isOpen()) {
          event.preventDefault(); // keep the typed words (a search field clears on Escape)
          close();
        }
        break;
    }
  });

  // Pressing on an option keeps the focus in the box; releasing chooses it.
  list.addEventListener('mousedown', function (event) { event.preventDefault(); });
  list.addEventListener('click', function (event) {
    var option = event.target.closest('[role="option"]');
    if (option) { choose(Array.prototype.indexOf.call(list.children, option)); }
  });

  input.addEventListener('blur', close);
})();
