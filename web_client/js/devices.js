// Camera and microphone pickers: lists from enumerateDevices (labels appear once permission is granted).

export async function listDevices() {
  const found = { video: [], audio: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return found;
  let devices = [];
  try {
    devices = await navigator.mediaDevices.enumerateDevices();
  } catch {
    return found;
  }
  for (const device of devices) {
    // Before permission, ids are empty: such entries cannot be selected, so they are not offered.
    if (!device.deviceId) continue;
    if (device.kind === "videoinput") found.video.push(device);
    if (device.kind === "audioinput") found.audio.push(device);
  }
  return found;
}

// Replaces the options of `select`; `selectedId` is kept selected when it is still there.
export function fillSelect(select, devices, selectedId, { noun, emptyText }) {
  const options = devices.map((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${noun} ${index + 1}`; // textContent: labels come from drivers
    return option;
  });
  if (options.length === 0) {
    const option = document.createElement("option");
    option.value = "";
    option.textContent = emptyText;
    options.push(option);
  }
  select.replaceChildren(...options);
  select.disabled = devices.length === 0;
  if (selectedId && devices.some((device) => device.deviceId === selectedId)) select.value = selectedId;
}
