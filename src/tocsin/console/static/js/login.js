// The login form: POST /api/v1/auth/login sets the HttpOnly session cookie; we never see it.
const form = document.getElementById("login");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: form.username.value, password: form.password.value }),
    });
    if (response.ok) {
      location.assign(form.dataset.next || "/console/");
      return;
    }
    const body = await response.json().catch(() => ({}));
    error.textContent = body.detail || `login failed (HTTP ${response.status})`;
    error.hidden = false;
  } catch (err) {
    error.textContent = `cannot reach the server: ${err}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
