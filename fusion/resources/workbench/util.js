// Small DOM, time and file helpers shared by the workbench's modules.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

// Times: the API answers in UTC; the page shows them in the data's local time zone.
const formatters = new Map();
function formatter(timeZone, withSeconds) {
  const key = `${timeZone}|${withSeconds}`;
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.DateTimeFormat("sv-SE", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
      minute: "2-digit", second: withSeconds ? "2-digit" : undefined, hourCycle: "h23",
    }));
  }
  return formatters.get(key);
}

export function localTime(iso, timeZone, withSeconds = true) {
  if (!iso) return "";
  const date = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return formatter(timeZone, withSeconds).format(date);
}

export function localDate(iso, timeZone) {
  return localTime(iso, timeZone, false).slice(0, 10);
}

// "+08:00" for a zone at a moment (Intl gives "GMT+8").
export function zoneOffset(timeZone, date = new Date()) {
  const part = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(date).find((p) => p.type === "timeZoneName");
  const text = part ? part.value.replace("GMT", "") : "";
  return text === "" ? "+00:00" : text;
}

export function validTimeZone(timeZone) {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}

// A local wall-clock time ("2024-09-20T10:00") in timeZone as ISO 8601 with its offset.
export function localInputToIso(value, timeZone) {
  if (!value) return null;
  const naive = new Date(`${value}Z`);
  const offset = zoneOffset(timeZone, naive);
  return `${value.length === 16 ? `${value}:00` : value}${offset}`;
}

export function download(content, name, type) {
  const blob = content instanceof Blob ? content : new Blob([content], { type });
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// RFC 4180 CSV: rows of fields.
export function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

export function csvField(value) {
  const text = value === null || value === undefined ? "" :
    typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function plural(n, word) {
  const many = /[^aeiou]y$/.test(word) ? `${word.slice(0, -1)}ies` : `${word}s`;
  return `${n.toLocaleString()} ${n === 1 ? word : many}`;
}
