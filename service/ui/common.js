// Shared by the agent sidebar and the trainer console: the API key (session storage only),
// calls to the /v1 API, Server-Sent Events over fetch, and small DOM helpers.
"use strict";

const KEY_STORAGE = "copilot.apiKey";

const Api = {
  key() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  },
  setKey(key) {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  },
  headers(extra) {
    return Object.assign({ Authorization: "Bearer " + Api.key() }, extra || {});
  },
  // JSON in, JSON out; a non-2xx answer throws ApiError with the service's error body.
  async call(method, path, body, options) {
    const init = { method, headers: Api.headers((options && options.headers) || {}) };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new ApiError(0, { error: { code: "network", message: "无法连接服务：" + err } });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = { error: { code: "bad_response", message: text.slice(0, 200) } };
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  },
  get(path) {
    return Api.call("GET", path);
  },
  post(path, body) {
    return Api.call("POST", path, body);
  },
  // POST expecting text/event-stream; onEvent(name, data) per event. EventSource cannot send
  // an Authorization header, hence fetch + a stream reader. Resolves when the stream ends.
  async stream(path, body, onEvent, signal) {
    const response = await fetch(path, {
      method: "POST",
      headers: Api.headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
      signal,
    });
    if (!response.ok) {
      let data = null;
      try {
        data = await response.json();
      } catch (err) {
        data = null;
      }
      throw new ApiError(response.status, data);
    }
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("text/event-stream")) {
      // A service without streaming answers with the plain payload: treat it as final.
      onEvent("final", await response.json());
      return;
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const parsed = parseSseBlock(block);
        if (parsed) onEvent(parsed.event, parsed.data);
      }
    }
  },
};

function parseSseBlock(block) {
  let event = "message";
  const dataLines = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") dataLines.push(value);
  }
  if (!dataLines.length) return null;
  const raw = dataLines.join("\n");
  try {
    return { event, data: JSON.parse(raw) };
  } catch (err) {
    return { event, data: raw };
  }
}

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || "HTTP " + status);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.field = error.field || null;
    this.body = body;
  }
  // What to tell the user, in Chinese, with the service's own message for the details.
  describe() {
    const prefix = {
      401: "API 密钥无效或已吊销",
      403: "此密钥无权访问该店铺或操作",
      404: "未找到",
      422: "输入有误",
      503: "服务暂不可用",
    }[this.status];
    const where = this.field ? "（字段 " + this.field + "）" : "";
    return (prefix ? prefix + "：" : "") + this.message + where;
  }
}

// el("div", {class: "x", onclick: fn}, "text", child, ...): text is always set as text, never
// parsed as HTML, so customer messages and KB texts cannot inject markup.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function $(selector) {
  return document.querySelector(selector);
}

function showMessage(target, text, kind) {
  const box = typeof target === "string" ? $(target) : target;
  box.textContent = text || "";
  box.className = "message" + (kind ? " " + kind : "");
  box.hidden = !text;
}

// The key bar shared by both pages: asks for a key, checks it with GET /v1/shops, and calls
// onShops(shops) once the key works.
function setupKeyBar(onShops) {
  const form = $("#key-form");
  const input = $("#api-key");
  const status = $("#key-status");
  async function check() {
    if (!Api.key()) {
      showMessage(status, "请输入 API 密钥（只保存在本浏览器标签页的会话存储中）", "info");
      document.body.classList.remove("authed");
      return;
    }
    try {
      const data = await Api.get("/v1/shops");
      showMessage(status, "");
      document.body.classList.add("authed");
      onShops(data.shops || []);
    } catch (err) {
      document.body.classList.remove("authed");
      showMessage(status, err instanceof ApiError ? err.describe() : String(err), "error");
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Api.setKey(input.value.trim());
    input.value = "";
    check();
  });
  $("#key-clear").addEventListener("click", () => {
    Api.setKey("");
    check();
  });
  check();
}

function shopOptions(select, shops, selected) {
  select.replaceChildren(
    ...shops.map((s) =>
      el("option", { value: s.shop_id }, (s.name ? s.name + " · " : "") + s.shop_id),
    ),
  );
  if (selected && shops.some((s) => s.shop_id === selected)) select.value = selected;
}

function entryTitle(entry) {
  return entry.title || entry.question || entry.id;
}

function percent(value) {
  return value === null || value === undefined ? "—" : (value * 100).toFixed(1) + "%";
}

// A page opened for one shop (?shop=ID, e.g. from a chat tool's plugin panel). A shop outside
// the key's scope is asked for anyway, so the user sees the service's own refusal (403).
async function pickRequestedShop(shops) {
  const requested = new URLSearchParams(location.search).get("shop");
  if (!requested) return null;
  if (shops.some((s) => s.shop_id === requested)) return requested;
  try {
    await Api.get("/v1/shops/" + encodeURIComponent(requested) + "/conversations");
    return null;
  } catch (err) {
    const text = err instanceof ApiError ? err.describe() : String(err);
    showMessage("#key-status", "无法打开店铺 " + requested + "：" + text, "error");
    return null;
  }
}

// copilot/intents/rules.py's taxonomy in Chinese; an unknown label is shown as it is.
const INTENT_NAMES = {
  product_question: "商品咨询", spec_size: "尺码规格", stock: "库存", price_promotion: "价格优惠",
  shipping_time: "发货时效", change_address: "改地址", change_phone: "改电话", order_note: "订单备注",
  logistics_tracking: "物流查询", urge_delivery: "催发货", usage_question: "使用方法",
  return: "退货退款", exchange: "换货", damaged_item: "商品损坏", missing_item: "少件漏发",
  price_difference: "价保补差", reship: "补发", refund_status: "退款进度", problem_parcel: "问题件",
  work_order: "工单", arbitration_claim: "理赔仲裁", greeting: "打招呼", thanks: "致谢",
  chitchat: "闲聊", ask_human: "转人工", complaint: "投诉", other: "其他",
};

function intentName(label) {
  return INTENT_NAMES[label] || label;
}
