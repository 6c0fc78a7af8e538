// Designer page: brief form -> POST /v1/recommend/previews (answer + server-drawn SVG previews, one round trip)
// -> one card per scheme. Plain browser JavaScript, no build step. The SVG comes from the server's preview/
// package, so the page and API users see the same picture; nothing is drawn here but bars and swatches.
"use strict";

// UI strings; vocabulary labels (categories, tones, roles, styles, ...) come from GET /v1/options.
const UI = {
  en: {
    title: "Packaging design recommender", brief: "Brief", product_category: "Product category",
    package_format: "Package format", audience: "Audience (up to 4)", tone: "Tone (up to 4)",
    keywords: "Keywords (English or Chinese)", product_name: "Product name (for the preview)",
    brand_colors: "Brand colours (up to 3)", use_colour_1: "Use colour 1", use_colour_2: "Use colour 2",
    use_colour_3: "Use colour 3", reference_image: "Reference image (PNG, JPEG or WebP, ≤ 5 MB)",
    reference_alt: "Reference image preview", clear_image: "Remove image", num_schemes: "Number of directions",
    submit: "Recommend designs", results: "Design directions", working: "Designing…",
    done: (n, ms) => `${n} directions in ${ms} ms.`, scheme: "Direction", preview: "Package front",
    heatmap: "Layout heatmap", palette: "Palette", fonts: "Fonts", heading: "Heading", body: "Body",
    styles: "Style scores", rationale: "Why", choose: "Choose", reject: "Reject", copy: "Copy JSON",
    svg: "Download SVG", png: "Download PNG", recorded: "Feedback recorded.", duplicate: "Already recorded.",
    copied: "JSON copied.", contrast: "contrast", vs_bg: "vs background", too_many: "Choose at most 4.",
    too_big: "The image is larger than 5 MB.", error: "Request failed", specimen: "Fresh summer taste",
    meta: (r) => `Request ${r.request_id} · model ${r.model_version} · ${r.backend}` +
      (r.learner_version ? ` · learned taste ${r.learner_version}` : ""),
    access: "API key", api_key: "API key (kept in this browser)", save_key: "Save key", forget_key: "Forget key",
    no_key: "No key saved (needed only where the service asks for one).", key_saved: "A key is saved in this browser.",
    need_key: "This service needs an API key: enter it above and save.",
    taste: "Learned taste", show_taste: "Show what was learned", reset_taste: "Forget my choices",
    taste_none: (n) => `Nothing learned yet (${n} choices recorded since the last reset; they count at the next training).`,
    taste_learned: (v, n, p) => `Learned from ${n} choices (version ${v}); ${p} recorded since the last reset.`,
    taste_reset: "Your choices so far are forgotten: answers are no longer re-ranked for you.",
    towards: "towards", away: "away from",
  },
  zh: {
    title: "包装设计推荐", brief: "设计简报", product_category: "产品品类", package_format: "包装形式",
    audience: "目标人群（最多 4 项）", tone: "调性（最多 4 项）", keywords: "关键词（中文或英文）",
    product_name: "产品名称（用于预览）", brand_colors: "品牌色（最多 3 个）", use_colour_1: "使用颜色 1",
    use_colour_2: "使用颜色 2", use_colour_3: "使用颜色 3",
    reference_image: "参考图片（PNG、JPEG 或 WebP，≤ 5 MB）", reference_alt: "参考图片预览",
    clear_image: "移除图片", num_schemes: "方案数量", submit: "生成设计方案", results: "设计方向",
    working: "生成中…", done: (n, ms) => `${n} 个方案，用时 ${ms} 毫秒。`, scheme: "方案", preview: "包装正面",
    heatmap: "版式热力图", palette: "配色", fonts: "字体", heading: "标题", body: "正文", styles: "风格评分",
    rationale: "理由", choose: "选用", reject: "不用", copy: "复制 JSON", svg: "下载 SVG", png: "下载 PNG",
    recorded: "反馈已记录。", duplicate: "此前已记录。", copied: "JSON 已复制。", contrast: "对比度",
    vs_bg: "对背景", too_many: "最多选择 4 项。", too_big: "图片超过 5 MB。", error: "请求失败",
    specimen: "清爽夏季限定", meta: (r) => `请求 ${r.request_id} · 模型 ${r.model_version} · ${r.backend}` +
      (r.learner_version ? ` · 偏好模型 ${r.learner_version}` : ""),
    access: "API 密钥", api_key: "API 密钥（保存在本浏览器）", save_key: "保存密钥", forget_key: "删除密钥",
    no_key: "尚未保存密钥（仅在服务要求时需要）。", key_saved: "本浏览器已保存密钥。",
    need_key: "此服务需要 API 密钥：请在上方输入并保存。",
    taste: "已学到的偏好", show_taste: "查看已学到的偏好", reset_taste: "清除我的选择",
    taste_none: (n) => `尚未学到偏好（上次清除后已记录 ${n} 次选择，下次训练时生效）。`,
    taste_learned: (v, n, p) => `已从 ${n} 次选择中学习（版本 ${v}）；上次清除后已记录 ${p} 次。`,
    taste_reset: "已清除之前的选择：方案不再按您的偏好重新排序。",
    towards: "偏向", away: "避开",
  },
};
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const HEATMAP_COLORS = { logo: "#e6194b", product_name: "#3cb44b", hero: "#4363d8", claims: "#f58231" };

const state = { lang: "en", options: null, answer: null, previews: [], image: null };
const KEY_STORE = "packdesign.apiKey";

// Every API call goes through here: the saved key (if any) rides along as X-API-Key, so a keyed deployment's
// page works and its choices land on the key's tenant. A 401 asks for the key.
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const key = localStorage.getItem(KEY_STORE);
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) askForKey();
  return response;
}

function askForKey() {
  showStatus(t("need_key"), true);
  $("#api_key").focus();
}

function showKeyState() {
  $("#key_state").textContent = localStorage.getItem(KEY_STORE) ? t("key_saved") : t("no_key");
}
const $ = (sel, root = document) => root.querySelector(sel);
const t = (key) => UI[state.lang][key];
const label = (vocab, id) => {
  const item = state.options?.[vocab]?.find((o) => o.id === id);
  return item ? item[state.lang] : id;
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "style") node.style.cssText = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

// ---- form ----
function fillForm() {
  for (const vocab of ["product_category", "package_format"]) {
    const select = $(`#${vocab}`);
    const current = select.value;
    select.replaceChildren(...state.options[vocab].map((o) => el("option", { value: o.id }, label(vocab, o.id))));
    if (current) select.value = current;
  }
  for (const vocab of ["audience", "tone"]) {
    const box = $(`#${vocab}`);
    const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
    box.querySelectorAll("label").forEach((n) => n.remove());
    for (const o of state.options[vocab]) {
      const input = el("input", { type: "checkbox", name: vocab, value: o.id, id: `${vocab}_${o.id}` });
      input.checked = checked.has(o.id);
      box.append(el("label", { for: input.id }, input, " ", label(vocab, o.id)));
    }
  }
}

function setLang(lang) {
  state.lang = lang;
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
  document.querySelectorAll("[data-i18n-alt]").forEach((n) => { n.alt = t(n.dataset.i18nAlt); });
  document.querySelectorAll(".lang button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
  document.title = t("title");
  showKeyState();
  if (state.options) fillForm();
  if (state.answer) renderAnswer();
}

function readBrief() {
  const checked = (vocab) => [...document.querySelectorAll(`#${vocab} input:checked`)].map((i) => i.value);
  const colors = [0, 1, 2].filter((i) => $(`#use_color_${i}`).checked).map((i) => $(`#color_${i}`).value);
  const brief = {
    product_category: $("#product_category").value,
    package_format: $("#package_format").value,
    audience: checked("audience"),
    tone: checked("tone"),
    keywords: $("#keywords").value,
    brand_colors: colors,
    num_schemes: Number($("#num_schemes").value) || 3,
    locale: state.lang,
  };
  if (state.image) brief.reference_image = state.image;
  return brief;
}

function showStatus(text, error = false) {
  const s = $("#status");
  s.textContent = text;
  s.classList.toggle("error", error);
}

function errorText(body) {
  // FastAPI 422: {detail: [{loc, msg}]}; other errors: {detail: "..."}.
  if (Array.isArray(body?.detail)) return body.detail.map((d) => `${d.loc?.slice(1).join(".")}: ${d.msg}`).join("; ");
  return body?.detail || "";
}

async function submit(event) {
  event.preventDefault();
  for (const vocab of ["audience", "tone"]) {
    if (document.querySelectorAll(`#${vocab} input:checked`).length > 4) return showStatus(t("too_many"), true);
  }
  const button = $("#submit");
  button.disabled = true;
  showStatus(t("working"));
  try {
    const params = new URLSearchParams();
    const name = $("#product_name").value.trim();
    if (name) params.set("product_name", name);
    const response = await api(`/v1/recommend/previews?${params}`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(readBrief()),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) return showStatus(`${t("error")} (${response.status}) ${errorText(body)}`, true);
    state.answer = body.recommendation;
    state.previews = body.previews;
    renderAnswer();
    showStatus(t("done")(state.answer.schemes.length, state.answer.timings_ms.total));
  } catch (err) {
    showStatus(`${t("error")}: ${err}`, true);
  } finally {
    button.disabled = false;
  }
}

function readImage() {
  const file = $("#reference_image").files[0];
  const box = $(".ref-preview");
  if (!file) { state.image = null; box.hidden = true; return; }
  if (file.size > MAX_IMAGE_BYTES) {
    $("#reference_image").value = "";
    state.image = null; box.hidden = true;
    return showStatus(t("too_big"), true);
  }
  const reader = new FileReader();
  reader.onload = () => { state.image = reader.result; $("#reference_preview").src = reader.result; box.hidden = false; };
  reader.readAsDataURL(file);
}

// ---- answer ----
function luminance(hex) {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}
function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function parseSvg(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  return document.importNode(doc.documentElement, true);
}

function renderAnswer() {
  const answer = state.answer;
  $("#results").hidden = false;
  $("#meta").textContent = t("meta")(answer);
  $("#cards").replaceChildren(...answer.schemes.map((s, i) => card(s, i, state.previews[i])));
}

function card(scheme, index, svgText) {
  const titleId = `scheme-${index}-title`;
  const svg = parseSvg(svgText);
  const article = el("article", { class: "card", "data-index": String(index), "aria-labelledby": titleId });
  article.append(el("h3", { id: titleId },
    `${t("scheme")} ${index + 1} · ${label("style", scheme.style.id)} (${Math.round(scheme.score * 100)}%)`));

  // Preview + heatmap toggle (the heatmap is a hidden layer of the server's SVG).
  const figure = el("figure", { class: "preview", "aria-label": t("preview") }, svg);
  const heatmapLayer = svg.querySelector("g.heatmap");
  const toggle = el("button", { type: "button", class: "heatmap-toggle", "aria-pressed": "false" }, t("heatmap"));
  toggle.addEventListener("click", () => {
    const on = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(on));
    heatmapLayer?.setAttribute("visibility", on ? "visible" : "hidden");
  });
  const legend = el("div", { class: "legend" }, ...Object.entries(HEATMAP_COLORS).map(([id, c]) =>
    el("span", { style: `--c:${c}` }, label("layout_element", id))));
  article.append(figure, el("div", { class: "actions" }, toggle), legend);

  // Palette: role, name, hex, contrast badge. The text colour shows the contrast the service measured.
  const bg = scheme.palette.colors.find((c) => c.role === "background").hex;
  article.append(el("h4", {}, t("palette")), el("ul", { class: "swatches" }, ...scheme.palette.colors.map((c) => {
    const ratio = c.role === "text" ? scheme.palette.text_contrast : contrast(c.hex, bg);
    // Only text must reach 4.5:1 (WCAG AA); other roles are decorative, so their ratio is shown neutrally.
    const grade = c.role === "text" ? (ratio >= 4.5 ? "pass" : "fail") : "info";
    const badge = c.role === "background" ? el("span")
      : el("span", { class: `badge ${grade}`, title: `${t("contrast")} ${t("vs_bg")}` },
        `${ratio.toFixed(2)}:1${grade === "pass" ? " AA" : ""}`);
    return el("li", { class: "swatch", "data-role": c.role, "data-hex": c.hex },
      el("span", { class: "chip", style: `background:${c.hex}`, "aria-hidden": "true" }),
      el("span", {}, el("strong", {}, label("palette_role", c.role)), ` · ${c.name} · `,
        el("span", { class: "hex" }, c.hex)), badge);
  })));

  // Font specimens in the same font stacks the SVG uses.
  const headingStack = svg.querySelector("text.product-name")?.getAttribute("font-family") || "serif";
  const bodyStack = svg.querySelector("text.claim")?.getAttribute("font-family") || "sans-serif";
  const { heading, body } = scheme.typography;
  // Chinese specimens fall back (per glyph) to the self-hosted Noto SC faces when the family is Latin-only.
  const specimen = (kind, font, stack, text) => el("p", {
    class: `specimen ${kind}`, "data-family": font.family,
    style: `font-family:${kind.endsWith("zh") ? `${stack}, 'Noto Sans SC'` : stack};font-weight:${font.weight}`,
  }, text);
  article.append(el("h4", {}, t("fonts")),
    el("p", { class: "specimen-label" }, el("small", {}, `${t("heading")}: ${heading.family} ${heading.weight}`)),
    specimen("heading", heading, headingStack, "Aa Fresh Summer"),
    specimen("heading zh", heading, headingStack, "清爽夏季限定"),
    el("p", { class: "specimen-label" }, el("small", {}, `${t("body")}: ${body.family} ${body.weight}`)),
    specimen("body", body, bodyStack, "The quick brown fox jumps over the lazy dog."),
    specimen("body zh", body, bodyStack, "天然原料，清爽口感，夏季限定。"));

  // Top style scores as bars.
  article.append(el("h4", {}, t("styles")), el("ul", { class: "bars" }, ...scheme.style_scores.map((s) =>
    el("li", { "data-style": s.id },
      el("span", {}, label("style", s.id)),
      el("span", { class: "bar", role: "img", "aria-label": `${Math.round(s.score * 100)}%` },
        el("span", { style: `width:${(s.score * 100).toFixed(1)}%` })),
      el("span", {}, `${Math.round(s.score * 100)}%`)))));

  article.append(el("h4", {}, t("rationale")), el("p", { class: "rationale" }, scheme.rationale));

  const feedback = el("p", { class: "feedback", role: "status", "aria-live": "polite" });
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "choose", onclick: () => sendFeedback(index, "chosen", article, feedback) }, t("choose")),
    el("button", { type: "button", class: "reject", onclick: () => sendFeedback(index, "rejected", article, feedback) }, t("reject")),
    el("button", { type: "button", class: "copy", onclick: () => copyJson(scheme, feedback) }, t("copy")),
    el("button", { type: "button", class: "download-svg", onclick: () => downloadSvg(index) }, t("svg")),
    el("button", { type: "button", class: "download-png", onclick: () => downloadPng(index) }, t("png")));
  article.append(actions, feedback);
  return article;
}

async function sendFeedback(index, action, article, out) {
  const response = await api("/v1/feedback", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ request_id: state.answer.request_id, scheme_index: index, action }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) { out.textContent = `${t("error")} (${response.status}) ${errorText(body)}`; return; }
  out.textContent = body.status === "duplicate" ? t("duplicate") : t("recorded");
  out.dataset.status = body.status;
  article.classList.toggle("chosen", action === "chosen");
  article.classList.toggle("rejected", action === "rejected");
}

async function copyJson(scheme, out) {
  const text = JSON.stringify(scheme, null, 2);
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (plain http, headless): the classic selection copy.
    const area = el("textarea", { style: "position:fixed;opacity:0" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  out.textContent = t("copied");
}

function fileName(index, ext) {
  return `packdesign-${state.answer.request_id}-${index + 1}.${ext}`;
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function downloadSvg(index) {
  save(new Blob([state.previews[index]], { type: "image/svg+xml" }), fileName(index, "svg"));
}

function downloadPng(index) {
  // Rasterise the same SVG at 2x through a canvas (an <img> SVG uses the fonts installed on the machine).
  const img = new Image();
  const url = URL.createObjectURL(new Blob([state.previews[index]], { type: "image/svg+xml" }));
  img.onload = () => {
    const canvas = el("canvas");
    canvas.width = img.naturalWidth * 2;
    canvas.height = img.naturalHeight * 2;
    const ctx = canvas.getContext("2d");
    ctx.scale(2, 2);
    ctx.drawImage(img, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => save(blob, fileName(index, "png")), "image/png");
  };
  img.src = url;
}

// ---- learned taste ----
async function showTaste() {
  const out = $("#taste_status");
  const response = await api("/v1/learner/preferences");
  const body = await response.json().catch(() => null);
  if (!response.ok) { out.textContent = `${t("error")} (${response.status}) ${errorText(body)}`; return; }
  out.dataset.learned = String(body.learned);
  out.textContent = body.learned ? t("taste_learned")(body.learner_version, body.events, body.events_since_reset)
    : t("taste_none")(body.events_since_reset);
  $("#taste_list").replaceChildren(...body.preferences.map((p) => el("li", { "data-feature": p.feature },
    `${p.leaning === "towards" ? t("towards") : t("away")} ${p.feature} (${p.weight.toFixed(2)})`)));
}

async function resetTaste() {
  const out = $("#taste_status");
  const response = await api("/v1/learner/preferences", { method: "DELETE" });
  const body = await response.json().catch(() => null);
  if (!response.ok) { out.textContent = `${t("error")} (${response.status}) ${errorText(body)}`; return; }
  out.dataset.learned = "false";
  out.textContent = t("taste_reset");
  $("#taste_list").replaceChildren();
}

async function loadOptions() {
  try {
    const response = await api("/v1/options");
    if (response.status === 401) return;  // askForKey has said so; saving a key loads them
    if (!response.ok) throw new Error(String(response.status));
    state.options = await response.json();
    fillForm();
    showStatus("");
    document.body.dataset.ready = "true";
  } catch (err) {
    showStatus(`${t("error")}: /v1/options ${err}`, true);
  }
}

async function init() {
  document.querySelectorAll(".lang button").forEach((b) => b.addEventListener("click", () => setLang(b.dataset.lang)));
  $("#brief").addEventListener("submit", submit);
  $("#reference_image").addEventListener("change", readImage);
  $("#clear_image").addEventListener("click", () => { $("#reference_image").value = ""; readImage(); });
  $("#save_key").addEventListener("click", () => {
    const key = $("#api_key").value.trim();
    if (!key) return;
    localStorage.setItem(KEY_STORE, key);
    $("#api_key").value = "";  // kept in storage, not on screen
    showKeyState();
    if (!state.options) loadOptions();
  });
  $("#forget_key").addEventListener("click", () => { localStorage.removeItem(KEY_STORE); showKeyState(); });
  $("#show_taste").addEventListener("click", showTaste);
  $("#reset_taste").addEventListener("click", resetTaste);
  showKeyState();
  await loadOptions();
}

init();
