// The sandbox page's only script: confirm dialogs, dispatched selects and Enter, external
// select options loads, and redrawing when the bot changes something (a long poll).
(function () {
  "use strict";
  var state = JSON.parse(document.body.dataset.state);

  function submitWithIntent(form, intent) {
    var field = form.querySelector("input[name=intent][type=hidden]");
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "intent";
      form.appendChild(field);
    }
    field.value = JSON.stringify(intent);
    form.submit();
  }

  // Confirm dialogs: a button with data-confirm asks first, as Slack does.
  var dialog = document.getElementById("confirm-dialog");
  var pending = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (!button || button.dataset.confirmed === "1") { return; }
    event.preventDefault();
    var confirm = JSON.parse(button.dataset.confirm);
    document.getElementById("confirm-title").textContent = confirm.title;
    document.getElementById("confirm-text").textContent = confirm.text;
    document.getElementById("confirm-ok").textContent = confirm.confirm;
    document.getElementById("confirm-ok").className =
      "bk-button " + (confirm.style === "danger" ? "bk-danger" : "bk-primary");
    document.getElementById("confirm-deny").textContent = confirm.deny;
    pending = button;
    dialog.showModal();
  }, true);
  document.getElementById("confirm-ok").addEventListener("click", function () {
    dialog.close();
    if (pending) { pending.dataset.confirmed = "1"; pending.form.requestSubmit(pending); }
  });
  document.getElementById("confirm-deny").addEventListener("click", function () {
    dialog.close();
    pending = null;
  });

  // Selects that dispatch (in messages, actions blocks, or inputs with dispatch_action).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-dispatch]");
    if (!select || !select.value) { return; }
    var intent = JSON.parse(select.dataset.intent);
    intent.value = select.value;
    submitWithIntent(select.form, intent);
  });

  // Enter: dispatches where the input asks for it; never submits a modal by accident.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter") { return; }
    var input = event.target;
    if (!input.form || input.form.id !== "modal-form" || input.tagName !== "INPUT") { return; }
    event.preventDefault();
    if (input.dataset.dispatchEnter) {
      var intent = JSON.parse(input.dataset.intent);
      intent.value = input.value;
      submitWithIntent(input.form, intent);
    }
  });

  // External selects: each keystroke (after min_query_length) is a block_suggestion.
  var timers = new WeakMap();
  function loadOptions(box) {
    var form = box.closest("form");
    var query = box.querySelector(".bk-external-query");
    var list = box.querySelector(".bk-options");
    var data = new FormData(form);
    data.set("view_id", form.dataset.viewId);
    data.set("block_id", box.dataset.blockId);
    data.set("typed", query.value);
    var asked = query.value;
    var seq = (Number(list.dataset.seq) || 0) + 1;
    list.dataset.seq = String(seq);
    delete list.dataset.loadedFor;
    list.textContent = "Loading…";
    list.classList.add("open");
    fetch("/options", { method: "POST", body: new URLSearchParams(data) })
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (list.dataset.seq !== String(seq)) { return; }  // a later keystroke asked again
        list.dataset.loadedFor = asked;
        list.textContent = "";
        (answer.problems || []).forEach(function (p) {
          var warning = document.createElement("div");
          warning.className = "bk-warning";
          warning.textContent = "Slack would refuse this options load: " + p;
          list.appendChild(warning);
        });
        if (!answer.options.length) {
          var none = document.createElement("div");
          none.className = "bk-option-none";
          none.textContent = "No results";
          list.appendChild(none);
        }
        answer.options.forEach(function (option) {
          var item = document.createElement("div");
          item.className = "bk-option";
          item.setAttribute("role", "option");
          item.dataset.value = option.value;
          item.textContent = option.text;
          list.appendChild(item);
        });
      });
  }
  document.addEventListener("input", function (event) {
    var query = event.target.closest(".bk-external-query");
    if (!query) { return; }
    var box = query.closest(".bk-external");
    box.querySelector("input[name^='in|']").value = "";
    clearTimeout(timers.get(box));
    if (query.value.length < Number(box.dataset.min)) { return; }
    timers.set(box, setTimeout(function () { loadOptions(box); }, 200));
  });
  document.addEventListener("focusin", function (event) {
    var query = event.target.closest(".bk-external-query");
    if (query && Number(query.closest(".bk-external").dataset.min) === 0) {
      loadOptions(query.closest(".bk-external"));
    }
  });
  document.addEventListener("click", function (event) {
    var item = event.target.closest(".bk-option");
    if (!item) { return; }
    var box = item.closest(".bk-external");
    box.querySelector("input[name^='in|']").value = item.dataset.value;
    box.querySelector("input[name^='t|']").value = item.textContent;
    box.querySelector(".bk-external-query").value = item.textContent;
    box.querySelector(".bk-options").classList.remove("open");
    if (box.dataset.dispatch) {
      var intent = JSON.parse(box.dataset.intent);
      intent.value = item.dataset.value;
      submitWithIntent(box.closest("form"), intent);
    }
  });

  // The person picker switches who you are.
  document.getElementById("who").addEventListener("change", function () {
    this.form.submit();
  });

  // Redraw when the bot changes something (the outbox posts after a pause).
  function redraw() {
    var url = "/part?as=" + encodeURIComponent(state.as) + "&pane=" + encodeURIComponent(state.pane);
    return fetch(url).then(function (r) { return r.json(); }).then(function (part) {
      document.getElementById("main").innerHTML = part.main;
      var modal = document.getElementById("modal");
      if (part.modal_key !== modal.dataset.key) {
        modal.innerHTML = part.modal;
        modal.dataset.key = part.modal_key;
      }
      state.version = part.version;
    });
  }
  function poll() {
    fetch("/poll?since=" + state.version)
      .then(function (r) { return r.json(); })
      .then(function (answer) {
        if (answer.version !== state.version) { return redraw(); }
      })
      .catch(function () { return new Promise(function (ok) { setTimeout(ok, 2000); }); })
      .then(poll);
  }
  poll();
})();
