// Passkeys in the browser: the only pages that load this file offer one. The server
// speaks WebAuthn Level 3's JSON forms, which the browser parses and produces itself.
//
//   form[data-passkey-get]     signs in (or answers the second factor): the options come
//                              from data-options, or from POSTing data-options-url; the
//                              answer goes into the form's `credential` field (and the
//                              options' handle into `challenge`), and the form is sent.
//                              With data-conditional, the browser's autofill offers
//                              passkeys on the username field as well. Fields with
//                              data-copy-of take the value of that element of the page.
//   form[data-passkey-create]  adds a passkey through the API, then goes to data-next.
//
// Anything that fails shows the form's [data-passkey-error] text in its role=alert box.
"use strict";

(function () {
  const supported = window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON;

  function fail(form, error) {
    if (error && error.name === "AbortError") return;
    const box = form.querySelector("[data-passkey-alert]");
    if (box) {
      box.textContent = form.dataset.passkeyError;
      box.hidden = false;
    }
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  async function options(form) {
    if (form.dataset.options) return { publicKey: JSON.parse(form.dataset.options) };
    return post(form.dataset.optionsUrl, {});
  }

  async function answer(form, mediation, signal) {
    const given = await options(form);
    const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(given.publicKey), signal };
    if (mediation) request.mediation = mediation;
    const credential = await navigator.credentials.get(request);
    if (!credential) return;
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    if (given.challenge && form.elements.challenge) form.elements.challenge.value = given.challenge;
    // What the person chose in the password form ("Login as", "Remember me") goes along.
    form.querySelectorAll("[data-copy-of]").forEach(function (field) {
      const source = document.getElementById(field.dataset.copyOf);
      if (!source) return;
      if (source.type === "checkbox") field.disabled = !source.checked;
      field.value = source.type === "checkbox" ? source.value : source.value.trim();
    });
    form.submit();
  }

  document.querySelectorAll("form[data-passkey-get]").forEach(function (form) {
    if (!supported) return;
    form.hidden = false;
    let waiting = null;
    if (form.dataset.conditional && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        waiting = new AbortController();
        // Nobody asked for it: a failure here stays quiet.
        answer(form, "conditional", waiting.signal).catch(function () {});
      });
    }
    form.addEventListener("submit", function (event) {
      if (form.elements.credential.value) return;
      event.preventDefault();
      if (waiting) waiting.abort();
      answer(form, null, undefined).catch(function (e) { fail(form, e); });
    });
  });

  document.querySelectorAll("form[data-passkey-create]").forEach(function (form) {
    if (!window.PublicKeyCredential || !PublicKeyCredential.parseCreationOptionsFromJSON) return;
    form.hidden = false;
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      try {
        const given = await post("/api/v1/me/passkeys/registration/options");
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(given.publicKey);
        const credential = await navigator.credentials.create({ publicKey });
        const name = form.elements.name ? form.elements.name.value : "";
        await post("/api/v1/me/passkeys", { name: name || null, credential: credential.toJSON() });
        window.location.assign(form.dataset.next || window.location.pathname);
      } catch (e) {
        fail(form, e);
      }
    });
  });
})();
