// Host home: create a meeting through the API, then go to its call page.

const button = document.getElementById("create-meeting");
const errorBox = document.getElementById("home-error");

button.addEventListener("click", async () => {
  button.disabled = true;
  errorBox.textContent = "";
  try {
    const response = await fetch("/api/meetings", { method: "POST", credentials: "same-origin" });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      window.location.assign("/login");
      return;
    }
    if (!response.ok) throw new Error(body.message || `the server answered ${response.status}`);
    window.location.assign(body.url);
  } catch (err) {
    errorBox.textContent = `Could not create a meeting: ${err.message}`;
    button.disabled = false;
  }
});
