// The agent sidebar: watches one conversation, streams suggestions for each new customer
// message, inserts one with a click or Alt+1/2/3, sends with Enter, dismisses with Esc, and
// reports shown / inserted / edited / sent / dismissed to /v1/feedback by itself.
"use strict";

const ROLE_LABELS = { answer: "回答", clarify: "澄清", script: "话术", upsell: "推荐" };
const SOURCE_LABELS = { kb: "知识库", history: "历史回复", llm: "AI 起草", template: "通用模板" };
const ROUTE_LABELS = { assist: "辅助回复", auto: "可自动回复", handoff: "转人工" };
const QUEUE_LABELS = { after_sales: "售后组", supervisor: "主管", merchant: "商家" };
// copilot/routing.py's reason codes; an unknown code is shown as it is.
const REASON_LABELS = {
  ask_human: "顾客要求人工",
  complaint: "顾客投诉",
  negative_sentiment: "顾客情绪激动",
  arbitration: "顾客提到平台介入/仲裁",
  repeated_question: "同一问题反复询问",
  low_confidence: "意图不确定",
  refund_over_limit: "退款金额超过客服权限",
  compensation_over_limit: "赔偿金额超过客服权限",
  confident_faq_answer: "常见问题，答案可靠",
  auto_reply_off: "店铺未开启自动回复",
  needs_agent: "需客服确认",
};

function reasonText(code) {
  if (code.startsWith("threat:")) return "威胁用语：" + code.slice(7);
  return REASON_LABELS[code] || code;
}
const POLL_MS = 2000;
const DEMO_DELAY_MS = 1200;

const state = {
  shop: "",
  conversationId: "",
  turns: [],
  suggestion: null, // the latest payload (suggestion or final event)
  shownAt: 0,
  shownIds: new Set(), // suggestion ids already reported as shown: once each, whatever re-renders
  drafting: "", // LLM pieces while the final suggestion is being drafted
  inserted: null, // {candidateId, text}
  suggestedFor: -1, // number of turns the current suggestion answers
  stream: null, // AbortController of the running suggestion stream
  refreshing: false,
  demo: null, // {messages, next}
};

function status(text, kind) {
  showMessage("#status", text, kind);
}

function errorText(err) {
  return err instanceof ApiError ? err.describe() : String(err);
}

// ---- shops and conversations ----

async function onShops(shops) {
  const requested = await pickRequestedShop(shops);
  shopOptions($("#shop"), shops, requested || sessionStorage.getItem("copilot.agentShop"));
  if (!shops.length) {
    status("此密钥没有可用的店铺", "error");
    return;
  }
  selectShop($("#shop").value);
}

async function selectShop(shop) {
  state.shop = shop;
  sessionStorage.setItem("copilot.agentShop", shop);
  stopDemo();
  await loadConversations();
}

async function loadConversations(selected) {
  const select = $("#conversation");
  let conversations = [];
  try {
    const data = await Api.get("/v1/shops/" + encodeURIComponent(state.shop) + "/conversations");
    conversations = data.conversations || [];
    status("");
  } catch (err) {
    status(errorText(err), "error");
  }
  const options = conversations.map((c) =>
    el("option", { value: c.conversation_id }, c.conversation_id + " · " + (c.last_text || "").slice(0, 16)),
  );
  options.unshift(el("option", { value: "" }, "＋ 新会话"));
  select.replaceChildren(...options);
  const keep = selected || state.conversationId;
  if (keep && conversations.some((c) => c.conversation_id === keep)) select.value = keep;
  else if (!selected && conversations.length) select.value = conversations[0].conversation_id;
  openConversation(select.value || newConversationId("web"));
}

function newConversationId(prefix) {
  return prefix + "-" + Date.now().toString(36) + Math.random().toString(36).slice(2, 6);
}

function openConversation(conversationId) {
  cancelStream();
  state.conversationId = conversationId;
  $("#chat").dataset.conversationId = conversationId;
  state.turns = [];
  state.suggestedFor = -1;
  clearSuggestion();
  renderChat();
  refreshConversation(true);
}

// Another tool (the chat system) posts the turns; the sidebar picks them up by polling and
// asks for suggestions when the last turn is a new customer message.
async function refreshConversation(initial) {
  if (!state.conversationId || !Api.key() || state.refreshing) return;
  state.refreshing = true;
  const conversationId = state.conversationId;
  try {
    const data = await Api.get("/v1/conversations/" + encodeURIComponent(conversationId) +
      "?shop_id=" + encodeURIComponent(state.shop));
    if (conversationId !== state.conversationId) return;
    const turns = data.turns || [];
    if (turns.length !== state.turns.length) {
      state.turns = turns;
      renderChat();
    }
    const last = turns[turns.length - 1];
    if (last && last.role === "customer" && state.suggestedFor !== turns.length) {
      requestSuggestion(turns.length);
    } else if (initial && (!last || last.role !== "customer")) {
      state.suggestedFor = turns.length;
    }
  } catch (err) {
    // A new conversation has no stored turns yet: that is not an error worth showing.
    if (!(err instanceof ApiError && err.status === 404)) status(errorText(err), "error");
  } finally {
    state.refreshing = false;
  }
}

async function postTurn(role, text) {
  await Api.post("/v1/conversations/" + encodeURIComponent(state.conversationId) + "/turns", {
    shop_id: state.shop,
    turns: [{ role, text, ts: Date.now() / 1000 }],
  });
}

function renderChat() {
  const chat = $("#chat");
  chat.replaceChildren(
    ...state.turns.map((t) =>
      el("div", { class: "turn " + t.role }, el("div", { class: "bubble", title: t.role === "customer" ? "顾客" : "客服" }, t.text)),
    ),
  );
  chat.scrollTop = chat.scrollHeight;
}

// ---- suggestions ----

async function requestSuggestion(turnCount) {
  cancelStream();
  clearSuggestion();
  state.suggestedFor = turnCount;
  const controller = new AbortController();
  state.stream = controller;
  $("#route").replaceChildren(el("span", { class: "muted" }, "正在生成建议…"));
  const body = {
    shop_id: state.shop,
    conversation_id: state.conversationId,
    use_llm: $("#use-llm").checked,
  };
  try {
    await Api.stream("/v1/suggest", body, (event, data) => onStreamEvent(event, data), controller.signal);
  } catch (err) {
    if (err.name !== "AbortError") {
      status(errorText(err), "error");
      $("#route").replaceChildren();
    }
  } finally {
    if (state.stream === controller) state.stream = null;
    if (state.drafting) {
      state.drafting = "";
      renderSuggestion();
    }
  }
}

function onStreamEvent(event, data) {
  if (event === "suggestion" || event === "final") {
    const first = !state.shownIds.has(data.suggestion_id);
    state.suggestion = data;
    if (event === "final") state.drafting = "";
    if (first) {
      state.shownIds.add(data.suggestion_id);
      state.shownAt = performance.now();
      feedback("shown", null, "");
    }
    renderSuggestion(event === "suggestion" && $("#use-llm").checked);
  } else if (event === "token") {
    state.drafting += data.text || "";
    renderSuggestion(true);
  } else if (event === "cancelled") {
    state.drafting = "";
    renderSuggestion();
  }
}

function cancelStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
  state.drafting = "";
}

function clearSuggestion() {
  state.suggestion = null;
  state.inserted = null;
  state.drafting = "";
  $("#route").replaceChildren();
  $("#suggestions").replaceChildren();
  $("#upsell").replaceChildren();
}

function renderSuggestion(expectDraft) {
  const s = state.suggestion;
  if (!s) return;
  $("#route").replaceChildren(...routeBadges(s));
  const cards = s.candidates.map((c, i) => candidateCard(c, i));
  if (expectDraft && state.stream) {
    cards.push(
      el("div", { class: "card drafting" },
        el("div", { class: "head" }, el("span", { class: "badge" }, "AI 起草中…")),
        el("div", { class: "text" }, state.drafting || "…")),
    );
  }
  if (!cards.length) cards.push(el("div", { class: "muted" }, "没有可用的建议，请人工回复"));
  $("#suggestions").replaceChildren(...cards);
  $("#upsell").replaceChildren(...(s.upsell ? [upsellCard(s.upsell)] : []));
}

function routeBadges(s) {
  const route = s.route || {};
  let label = ROUTE_LABELS[route.action] || route.action;
  if (route.action === "handoff" && route.queue) label += " · " + (QUEUE_LABELS[route.queue] || route.queue);
  const badges = [el("span", { class: "badge route " + route.action, id: "route-badge" }, label)];
  if (route.action === "handoff" && route.reasons && route.reasons.length) {
    badges.push(el("span", { class: "muted", id: "handoff-reason" }, "原因：" + route.reasons.map(reasonText).join("；")));
  }
  if (s.intent) {
    badges.push(el("span", { class: "muted" }, "意图 " + intentName(s.intent.label) + " " + percent(s.intent.confidence)));
  }
  if (s.degraded && s.degraded.length) {
    badges.push(el("span", { class: "badge warn" }, "降级：" + s.degraded.join("、")));
  }
  return badges;
}

function isBlocked(candidate) {
  return (candidate.flags || []).some((f) => f.severity === "block");
}

function candidateCard(c, index) {
  const source = c.source || {};
  const titles = source.kb_titles || [];
  const inserted = state.inserted && state.inserted.candidateId === c.id;
  return el("div",
    {
      class: "card candidate" + (isBlocked(c) ? " blocked" : "") + (inserted ? " inserted" : ""),
      dataset: { index: String(index + 1), role: c.role },
      title: isBlocked(c) ? "已被安全规则拦截" : "点击或按 Alt+" + (index + 1) + " 插入",
      onclick: () => insertCandidate(index),
    },
    el("div", { class: "head" },
      el("span", { class: "num" }, String(index + 1)),
      el("span", { class: "badge role role-" + c.role }, ROLE_LABELS[c.role] || c.role),
      el("span", { class: "badge" }, SOURCE_LABELS[source.kind] || source.kind || "")),
    el("div", { class: "text" }, c.text),
    titles.length ? el("div", { class: "sources" }, "来源：" + titles.join("、")) : null,
    (c.flags || []).map((f) =>
      el("span", { class: "flag badge " + f.severity }, (f.severity === "block" ? "拦截：" : "注意：") + f.message)),
  );
}

function upsellCard(u) {
  return el("div", { class: "card upsell", id: "upsell-card", onclick: () => insertText(null, u.text) },
    el("div", { class: "head" }, el("span", { class: "badge role role-upsell" }, "推荐"),
      el("span", { class: "muted" }, { related: "关联商品", threshold: "凑单满减", payment_reminder: "催付" }[u.kind] || u.kind)),
    el("div", { class: "text" }, u.text),
    el("div", { class: "sources" }, "理由：" + u.reason));
}

function insertCandidate(index) {
  const s = state.suggestion;
  const c = s && s.candidates[index];
  if (!c) return;
  if (isBlocked(c)) {
    status("第 " + (index + 1) + " 条建议已被安全规则拦截，不能插入", "error");
    return;
  }
  insertText(c.id, c.text);
}

function insertText(candidateId, text) {
  const reply = $("#reply");
  reply.value = text;
  reply.focus();
  reply.setSelectionRange(text.length, text.length);
  state.inserted = { candidateId, text };
  feedback("inserted", candidateId, text);
  renderSuggestion(Boolean(state.stream));
}

// ---- sending, dismissing, feedback ----

async function send() {
  const reply = $("#reply");
  const text = reply.value.trim();
  if (!text || !state.conversationId) return;
  const s = state.suggestion;
  if (s) {
    const candidateId = state.inserted ? state.inserted.candidateId : null;
    if (state.inserted && state.inserted.text !== text) feedback("edited", candidateId, text);
    feedback("sent", candidateId, text, Math.round(performance.now() - state.shownAt));
  }
  cancelStream();
  try {
    await postTurn("agent", text);
  } catch (err) {
    status(errorText(err), "error");
    return;
  }
  reply.value = "";
  state.turns = state.turns.concat([{ role: "agent", text }]);
  state.suggestedFor = state.turns.length;
  clearSuggestion();
  renderChat();
  status("已发送", "ok");
  if (state.demo) setTimeout(playNextDemoMessage, DEMO_DELAY_MS);
}

function dismiss() {
  if (!state.suggestion) return;
  feedback("dismissed", null, "");
  cancelStream();
  clearSuggestion();
}

function feedback(action, candidateId, finalText, msToSend) {
  const s = state.suggestion;
  if (!s) return;
  const body = { suggestion_id: s.suggestion_id, action };
  if (candidateId) body.candidate_id = candidateId;
  if (finalText) body.final_text = finalText;
  if (msToSend !== undefined) body.ms_to_send = msToSend;
  Api.post("/v1/feedback", body).catch((err) => status("反馈未记录：" + errorText(err), "error"));
}

// ---- demo mode: customer messages from the demo shop's chats ----

async function startDemo() {
  let data;
  try {
    data = await Api.get("/ui/demo-chats/" + encodeURIComponent(state.shop));
  } catch (err) {
    status("此店铺没有演示对话（演示店铺：demo-pdd、demo-ks、demo-express）", "error");
    return;
  }
  const chats = data.chats.filter((c) => c.customer_messages.length);
  const round = Number(sessionStorage.getItem("copilot.demoRound") || "0");
  sessionStorage.setItem("copilot.demoRound", String(round + 1));
  const chat = chats[round % chats.length];
  const conversationId = newConversationId("demo-" + chat.conversation_id);
  state.demo = { messages: chat.customer_messages, next: 0 };
  $("#conversation").prepend(el("option", { value: conversationId }, conversationId + " · 演示"));
  $("#conversation").value = conversationId;
  openConversation(conversationId);
  $("#demo").textContent = "停止演示";
  status("演示模式：顾客消息来自演示对话 " + chat.conversation_id + "，选一条建议（Alt+1）后按 Enter 发送", "info");
  playNextDemoMessage();
}

function stopDemo() {
  state.demo = null;
  $("#demo").textContent = "演示模式";
}

async function playNextDemoMessage() {
  const demo = state.demo;
  if (!demo) return;
  if (demo.next >= demo.messages.length) {
    status("演示对话结束，可再次点击“演示模式”播放下一段", "ok");
    stopDemo();
    return;
  }
  const text = demo.messages[demo.next++];
  await customerSays(text);
}

async function customerSays(text) {
  try {
    await postTurn("customer", text);
  } catch (err) {
    status(errorText(err), "error");
    return;
  }
  await refreshConversation();
}

// ---- wiring ----

function onKeyDown(event) {
  const digit = /^(?:Digit|Numpad)([1-9])$/.exec(event.code || "");
  if (event.altKey && digit) {
    event.preventDefault();
    insertCandidate(Number(digit[1]) - 1);
  } else if (event.key === "Escape") {
    event.preventDefault();
    dismiss();
  }
}

function onReplyKey(event) {
  // Enter while an input method is composing picks a character; it must not send.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
    event.preventDefault();
    send();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKeyDown);
  $("#reply").addEventListener("keydown", onReplyKey);
  $("#send").addEventListener("click", send);
  $("#dismiss").addEventListener("click", dismiss);
  $("#shop").addEventListener("change", (e) => selectShop(e.target.value));
  $("#conversation").addEventListener("change", (e) => {
    stopDemo();
    openConversation(e.target.value || newConversationId("web"));
  });
  $("#refresh").addEventListener("click", () => loadConversations());
  $("#demo").addEventListener("click", () => (state.demo ? stopDemo() : startDemo()));
  $("#customer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#customer-text");
    const text = input.value.trim();
    input.value = "";
    if (text) customerSays(text);
  });
  setInterval(() => document.hidden || refreshConversation(), POLL_MS);
  setupKeyBar(onShops);
});
