// The trainer console: KB entries (browse, search, create, edit, delete), file import with
// inline row errors, search preview with per-retriever scores, knowledge gaps, acceptance.
"use strict";

const KIND_LABELS = { faq: "问答", product: "商品", policy: "政策", promotion: "活动", script: "话术" };
const SOURCE_NAMES = { kb: "知识库", history: "历史回复", llm: "AI 起草", template: "通用模板" };
const ROUTE_NAMES = { assist: "辅助回复", auto: "自动回复", handoff: "转人工" };
const PAGE_SIZE = 20;
const FIELD_NAMES = {
  question: "问题", alt_question: "相似问法", answer: "答案", title: "标题", selling_points: "卖点",
  usage_notes: "使用说明", content: "内容", rule: "规则", description: "说明", text: "话术",
};

const state = { shops: [], shop: "", offset: 0, total: 0, editing: null };

function status(text, kind) {
  showMessage("#status", text, kind);
}

function errorText(err) {
  return err instanceof ApiError ? err.describe() : String(err);
}

function shopPath(suffix) {
  return "/v1/shops/" + encodeURIComponent(state.shop) + suffix;
}

async function onShops(shops) {
  state.shops = shops;
  const requested = await pickRequestedShop(shops);
  shopOptions($("#shop"), shops, requested || sessionStorage.getItem("copilot.trainerShop"));
  if (!shops.length) {
    status("此密钥没有可用的店铺", "error");
    return;
  }
  selectShop($("#shop").value);
}

function selectShop(shop) {
  state.shop = shop;
  sessionStorage.setItem("copilot.trainerShop", shop);
  const info = state.shops.find((s) => s.shop_id === shop) || {};
  $("#shop-info").textContent = "条目 " + (info.entries ?? "—") + " · 版本 " + (info.version ?? "—");
  state.offset = 0;
  closeEditor();
  $("#import-result").replaceChildren();
  $("#search-result").replaceChildren();
  status("");
  const active = document.querySelector(".tabs button.active").dataset.tab;
  showTab(active);
  if (active !== "stale") loadStaleness();
}

function showTab(name) {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.classList.toggle("active", button.dataset.tab === name);
  }
  for (const tab of document.querySelectorAll(".tab")) tab.hidden = tab.id !== "tab-" + name;
  if (name === "kb") loadEntries();
  else if (name === "gaps") loadGaps();
  else if (name === "stats") loadStats();
  else if (name === "stale") loadStaleness();
}

// ---- KB entries ----

async function loadEntries() {
  const params = new URLSearchParams({ offset: state.offset, limit: PAGE_SIZE });
  if ($("#kb-kind").value) params.set("kind", $("#kb-kind").value);
  if ($("#kb-q").value.trim()) params.set("q", $("#kb-q").value.trim());
  try {
    const data = await Api.get(shopPath("/kb/entries?" + params));
    state.total = data.total;
    renderEntries(data.entries);
  } catch (err) {
    status(errorText(err), "error");
    renderEntries([]);
  }
}

function renderEntries(entries) {
  $("#kb-table tbody").replaceChildren(
    ...entries.map((e) =>
      el("tr", { dataset: { id: e.id }, class: state.editing === e.id ? "selected" : null },
        el("td", {}, e.id),
        el("td", {}, KIND_LABELS[e.kind] || e.kind),
        el("td", { class: "cell-text" }, entryTitle(e)),
        el("td", { class: "actions" },
          el("button", { type: "button", onclick: () => openEditor(e) }, "编辑"), " ",
          el("button", { type: "button", class: "danger", onclick: () => deleteEntry(e) }, "删除"))),
    ),
  );
  if (!entries.length) $("#kb-table tbody").append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "没有条目")));
  const last = Math.min(state.offset + PAGE_SIZE, state.total);
  $("#kb-page").textContent = state.total ? state.offset + 1 + "–" + last + " / 共 " + state.total + " 条" : "";
  $("#kb-prev").disabled = state.offset === 0;
  $("#kb-next").disabled = last >= state.total;
}

function openEditor(entry, draft) {
  const form = $("#entry-form");
  form.hidden = false;
  state.editing = entry ? entry.id : null;
  $("#entry-form-title").textContent = entry ? "编辑条目 " + entry.id : "新建条目";
  const data = entry || Object.assign({ kind: "faq" }, draft || {});
  $("#entry-kind").value = data.kind;
  $("#entry-kind").disabled = Boolean(entry);
  $("#entry-id").value = entry ? entry.id : "";
  $("#entry-id").disabled = Boolean(entry);
  $("#entry-question").value = data.question || "";
  $("#entry-answer").value = data.answer || "";
  $("#entry-alt").value = (data.alt_questions || []).join(" | ");
  $("#entry-product").value = data.product_id || "";
  $("#entry-intent").value = data.intent || "";
  const rest = Object.assign({}, data);
  delete rest.kind;
  delete rest.id;
  $("#entry-json").value = JSON.stringify(entry ? rest : templateFor(data.kind), null, 2);
  showMessage("#entry-error", "");
  toggleKindFields();
  for (const row of document.querySelectorAll("#kb-table tr")) {
    row.classList.toggle("selected", Boolean(entry) && row.dataset.id === entry.id);
  }
  (data.kind === "faq" ? (draft && draft.question ? $("#entry-answer") : $("#entry-question")) : $("#entry-json")).focus();
}

function templateFor(kind) {
  return {
    product: { title: "", price: "", variants: [], selling_points: [], usage_notes: "", in_stock: true, related: [], category: "" },
    policy: { topic: "shipping", title: "", content: "" },
    promotion: { title: "", rule: "满199减20", product_ids: [], starts: null, ends: null, description: "" },
    script: { intent: "", title: "", text: "" },
    faq: {},
  }[kind];
}

function toggleKindFields() {
  const faq = $("#entry-kind").value === "faq";
  $("#faq-fields").hidden = !faq;
  $("#json-fields").hidden = faq;
  if (!faq && !state.editing && !$("#entry-json").value.replace(/[{}\s]/g, "")) {
    $("#entry-json").value = JSON.stringify(templateFor($("#entry-kind").value), null, 2);
  }
}

function closeEditor() {
  $("#entry-form").hidden = true;
  state.editing = null;
}

function entryFromForm() {
  const kind = $("#entry-kind").value;
  const id = $("#entry-id").value.trim() || kind + "-" + Date.now().toString(36);
  if (kind === "faq") {
    return {
      kind, id,
      question: $("#entry-question").value.trim(),
      answer: $("#entry-answer").value.trim(),
      alt_questions: $("#entry-alt").value.split(/[|｜]/).map((s) => s.trim()).filter(Boolean),
      product_id: $("#entry-product").value.trim() || null,
      intent: $("#entry-intent").value.trim(),
    };
  }
  let fields;
  try {
    fields = JSON.parse($("#entry-json").value || "{}");
  } catch (err) {
    throw new Error("字段不是合法的 JSON：" + err.message);
  }
  return Object.assign(fields, { kind, id });
}

async function saveEntry(event) {
  event.preventDefault();
  let entry;
  try {
    entry = entryFromForm();
  } catch (err) {
    showMessage("#entry-error", err.message, "error");
    return;
  }
  try {
    if (state.editing) await Api.call("PUT", shopPath("/kb/entries/" + encodeURIComponent(state.editing)), entry);
    else await Api.post(shopPath("/kb/entries"), entry);
  } catch (err) {
    showMessage("#entry-error", errorText(err), "error");
    return;
  }
  status((state.editing ? "已保存 " : "已新建 ") + entry.id, "ok");
  closeEditor();
  await refreshShopInfo();
  loadEntries();
}

async function deleteEntry(entry) {
  if (!confirm("删除条目 " + entry.id + "（" + entryTitle(entry) + "）？")) return;
  try {
    await Api.call("DELETE", shopPath("/kb/entries/" + encodeURIComponent(entry.id)));
    status("已删除 " + entry.id, "ok");
    if (state.editing === entry.id) closeEditor();
    await refreshShopInfo();
    loadEntries();
  } catch (err) {
    status(errorText(err), "error");
  }
}

async function refreshShopInfo() {
  try {
    state.shops = (await Api.get("/v1/shops")).shops || state.shops;
    const info = state.shops.find((s) => s.shop_id === state.shop) || {};
    $("#shop-info").textContent = "条目 " + (info.entries ?? "—") + " · 版本 " + (info.version ?? "—");
  } catch (err) {
    status(errorText(err), "error");
  }
}

// ---- import ----

async function importFile(event) {
  event.preventDefault();
  const file = $("#import-file").files[0];
  const result = $("#import-result");
  if (!file) {
    result.replaceChildren(el("div", { class: "message error" }, "请选择要导入的文件"));
    return;
  }
  const form = new FormData();
  form.append("file", file, file.name);
  result.replaceChildren(el("div", { class: "message info" }, "正在导入 " + file.name + " …"));
  try {
    const report = await Api.post(shopPath("/kb/import"), form);
    result.replaceChildren(importReport(file.name, report));
    await refreshShopInfo();
  } catch (err) {
    result.replaceChildren(...importErrors(file.name, err));
  }
}

function importReport(name, report) {
  const parts = [["新增", report.added], ["更新", report.updated], ["未变", report.unchanged], ["删除", report.removed]]
    .filter(([, v]) => v !== undefined)
    .map(([label, v]) => label + " " + v);
  const done = el("div", { class: "message ok", id: "import-ok" }, "已导入 " + name + "：" + parts.join("，"));
  const leftOut = report.left_out || [];
  if (!leftOut.length) return done;
  // a question without its answer yet: imported later, once the sheet answers it
  const list = el("ul", { id: "import-left-out" }, ...leftOut.map((row) => el("li", {}, row)));
  const note = el("div", { class: "message info" }, leftOut.length + " 个问题还没有答案，暂未导入（补上答案后再导入）：", list);
  return el("div", {}, done, note);
}

// The importers speak English (they serve the CLI too); the commonest row errors in Chinese,
// the original kept beside them so nothing is lost in translation.
const ROW_ERRORS_ZH = [
  [/^must not be empty$/, "不能为空"],
  [/must be a non-negative number$/, "必须是不小于 0 的数字"],
  [/^the file is empty$/, "文件是空的"],
  [/^no data rows/, "没有数据行（只有表头或文件为空）"],
  [/^unknown encoding/, "无法识别编码，请另存为 UTF-8"],
  [/^cannot tell the kind|^no kind given/, "无法判断条目类型，请加上“类型”列"],
  [/is before the start/, "结束时间早于开始时间"],
  [/^missing column/i, "缺少必需的列"],
  [/duplicate/i, "ID 重复"],
];

function rowErrorText(message) {
  const found = ROW_ERRORS_ZH.find(([pattern]) => pattern.test(message || ""));
  return found ? found[1] + "（" + message + "）" : message;
}

function importErrors(name, err) {
  const rows = (err.body && err.body.row_errors) || [];
  const why = rows.length ? "共 " + rows.length + " 处错误，请按下表修改后重新上传" : errorText(err);
  const nodes = [el("div", { class: "message error", id: "import-error" },
    "未导入任何内容（" + name + "）：" + why)];
  if (rows.length) {
    nodes.push(el("table", { class: "row-errors", id: "row-errors" },
      el("thead", {}, el("tr", {}, el("th", {}, "文件"), el("th", {}, "行"), el("th", {}, "列"), el("th", {}, "问题"))),
      el("tbody", {}, rows.map((r) =>
        el("tr", {}, el("td", {}, r.file || name), el("td", {}, r.row ?? ""), el("td", {}, r.column || ""), el("td", {}, rowErrorText(r.message)))))));
  }
  return nodes;
}

// ---- search preview ----

async function searchPreview(event) {
  event.preventDefault();
  const q = $("#search-q").value.trim();
  if (!q) return;
  const out = $("#search-result");
  try {
    const data = await Api.get(shopPath("/kb/search?" + new URLSearchParams({ q, k: 10 })));
    const names = [...new Set(data.hits.flatMap((h) => Object.keys(h.retrievers)))].sort();
    out.replaceChildren(
      el("p", { class: "muted" }, "知识库版本 " + data.version + "，命中 " + data.hits.length + " 条"),
      el("table", { id: "search-table", class: "scores" },
        el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "条目"), el("th", {}, "类型"),
          el("th", {}, "标题 / 匹配内容"), el("th", {}, "融合得分"), names.map((n) => el("th", {}, n + " 得分（名次）")))),
        el("tbody", {}, data.hits.map((h, i) =>
          el("tr", { dataset: { id: h.entry_id } },
            el("td", {}, String(i + 1)), el("td", {}, h.entry_id), el("td", {}, KIND_LABELS[h.kind] || h.kind),
            el("td", { class: "cell-text" }, entryTitle(h.entry), el("br"), el("small", {}, (FIELD_NAMES[h.matched_field] || h.matched_field) + "：" + h.matched_text)),
            el("td", {}, h.score.toFixed(4)),
            names.map((n) => el("td", {}, h.retrievers[n] ? h.retrievers[n].score.toFixed(3) + "（" + h.retrievers[n].rank + "）" : "—")))))),
    );
  } catch (err) {
    out.replaceChildren(el("div", { class: "message error" }, errorText(err)));
  }
}

// ---- staleness: promotions ending soon, entries quoting ended ones (a badge on the shop) ----

async function loadStaleness(event) {
  if (event) event.preventDefault();
  const out = $("#stale-result");
  try {
    const data = await Api.get(shopPath("/kb/staleness?within=" + $("#stale-within").value));
    staleBadge(data);
    out.replaceChildren(...staleSections(data));
  } catch (err) {
    out.replaceChildren(el("div", { class: "message error" }, errorText(err)));
  }
}

function staleBadge(data) {
  const badge = $("#stale-badge");
  const parts = [];
  if (data.stale.length) parts.push(data.stale.length + " 条过时");
  if (data.ending.length) parts.push(data.ending.length + " 个活动即将结束");
  badge.textContent = parts.join(" · ");
  badge.hidden = !parts.length;
}

function staleSections(data) {
  const promoRow = (p, note) => el("tr", {},
    el("td", {}, p.id), el("td", {}, p.title + "（" + p.rule + "）"), el("td", {}, p.ends || "—"),
    el("td", {}, note(p)));
  const table = (head, rows) => el("table", {},
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
  const sections = [];
  if (data.stale.length) {
    sections.push(el("h3", {}, "过时的条目（已不再推荐）"), table(["ID", "类型", "标题 / 问题", "原因"],
      data.stale.map((e) => el("tr", { class: "stale-entry" }, el("td", {}, e.entry_id), el("td", {}, e.kind),
        el("td", {}, e.title), el("td", {}, e.reasons.join("；"))))));
  }
  if (data.ending.length) {
    sections.push(el("h3", {}, data.within_days + " 天内结束的活动"), table(["ID", "活动", "结束", "届时过时的条目"],
      data.ending.map((p) => promoRow(p, (x) => x.linked_entries.join("、") || "—"))));
  }
  if (data.expired.length) {
    sections.push(el("h3", {}, "已结束的活动（可删除）"), table(["ID", "活动", "结束", ""],
      data.expired.map((p) => promoRow(p, () => ""))));
  }
  if (!sections.length) sections.push(el("p", { class: "muted" }, "没有即将结束的活动，也没有过时的条目"));
  return sections;
}

// ---- gaps ----

async function loadGaps(event) {
  if (event) event.preventDefault();
  const out = $("#gaps-result");
  try {
    const data = await Api.get(shopPath("/gaps?since=" + $("#gaps-since").value));
    const groups = data.groups || [];
    out.replaceChildren(...groups.map(gapCard));
    if (!groups.length) out.append(el("p", { class: "muted" }, "暂无知识缺口：近期顾客的问题都检索到了可靠的答案"));
  } catch (err) {
    out.replaceChildren(el("div", { class: "message error" }, errorText(err)));
  }
}

function gapCard(group) {
  const others = (group.examples || []).filter((e) => e !== group.question);
  return el("div", { class: "gap" },
    el("div", { class: "row" },
      el("strong", { class: "grow" }, group.question),
      el("span", { class: "badge" }, group.count + " 次"),
      group.intent ? el("span", { class: "badge", title: group.intent }, intentName(group.intent)) : null,
      el("button", { type: "button", class: "primary", onclick: () => draftFaq(group, others) }, "起草 FAQ")),
    others.length ? el("ul", { class: "examples" }, others.slice(0, 5).map((e) => el("li", {}, e))) : null);
}

function draftFaq(group, others) {
  showTab("kb");
  openEditor(null, { kind: "faq", question: group.question, alt_questions: others.slice(0, 5), intent: group.intent || "" });
}

// ---- acceptance dashboard ----

async function loadStats(event) {
  if (event) event.preventDefault();
  const out = $("#stats-result");
  try {
    const s = await Api.get(shopPath("/stats?since=" + $("#stats-since").value));
    const rows = (map, names) =>
      Object.entries(map || {}).map(([k, v]) => ({ label: (names && names[k]) || k, shown: v.shown, accepted: v.accepted, rate: v.rate }));
    out.replaceChildren(
      el("div", { class: "figures", id: "stats-figures" },
        figure("建议", s.suggestions), figure("展示", s.shown), figure("插入", s.inserted), figure("发送", s.sent), figure("修改", s.edited),
        figure("忽略", s.dismissed), figure("采纳率", percent(s.acceptance_rate)),
        figure("平均编辑距离", s.mean_edit_distance === null || s.mean_edit_distance === undefined ? "—" : Number(s.mean_edit_distance).toFixed(2)),
        figure("平均发送用时", s.mean_ms_to_send ? (s.mean_ms_to_send / 1000).toFixed(1) + " 秒" : "—")),
      el("div", { class: "charts" },
        barChart("按意图", rows(s.by_intent, INTENT_NAMES)),
        barChart("按来源", rows(s.by_source, SOURCE_NAMES)),
        barChart("按路由", rows(s.by_route, ROUTE_NAMES)),
        dayChart("按天", s.by_day || [])),
    );
  } catch (err) {
    out.replaceChildren(el("div", { class: "message error" }, errorText(err)));
  }
}

function figure(label, value) {
  return el("div", { class: "figure", dataset: { label } }, el("div", { class: "value" }, String(value ?? "—")), el("div", { class: "label" }, label));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("#shop").addEventListener("change", (e) => selectShop(e.target.value));
  $("#kb-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    state.offset = 0;
    loadEntries();
  });
  $("#kb-kind").addEventListener("change", () => {
    state.offset = 0;
    loadEntries();
  });
  $("#kb-prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadEntries();
  });
  $("#kb-next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadEntries();
  });
  $("#kb-new").addEventListener("click", () => openEditor(null));
  $("#entry-kind").addEventListener("change", toggleKindFields);
  $("#entry-form").addEventListener("submit", saveEntry);
  $("#entry-cancel").addEventListener("click", closeEditor);
  $("#import-form").addEventListener("submit", importFile);
  $("#search-form").addEventListener("submit", searchPreview);
  $("#gaps-form").addEventListener("submit", loadGaps);
  $("#stale-form").addEventListener("submit", loadStaleness);
  $("#stale-badge").addEventListener("click", () => showTab("stale"));
  $("#stats-form").addEventListener("submit", loadStats);
  setupKeyBar(onShops);
});
