// Offline API reference: lists every operation of /openapi.json with its parameters and body schema.
"use strict";

(async function () {
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  // Text with `code` or ``code`` spans, shown with <code> elements.
  const prose = (cls, text) => {
    const node = el("p", cls);
    (text || "").split(/`{1,2}([^`]+)`{1,2}/).forEach((part, i) => node.append(i % 2 ? el("code", "", part) : part));
    return node;
  };
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("description").append(prose("answer", spec.info.description));
  const root = document.getElementById("endpoints");
  const resolve = (schema) => {
    if (schema && schema.$ref) return spec.components.schemas[schema.$ref.split("/").pop()];
    return schema;
  };
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(operations)) {
      const card = el("section", "answer-panel endpoint");
      card.append(el("h2", "", method.toUpperCase() + " " + path));
      if (op.summary) card.append(el("p", "status", op.summary));
      if (op.description) card.append(prose("answer", op.description));
      const params = (op.parameters || []).filter((p) => p.in !== "header");
      if (params.length) {
        card.append(el("h3", "", "Parameters"));
        const list = el("ul");
        for (const p of params) list.append(el("li", "", p.name + " (" + p.in + (p.required ? ", required" : "") + ")" + (p.description ? ": " + p.description : "")));
        card.append(list);
      }
      const content = op.requestBody && op.requestBody.content;
      if (content) {
        for (const [type, body] of Object.entries(content)) {
          card.append(el("h3", "", "Body: " + type));
          const schema = resolve(body.schema) || {};
          const props = schema.properties || {};
          const list = el("ul");
          for (const [name, prop] of Object.entries(props)) {
            const required = (schema.required || []).includes(name) ? " (required)" : "";
            list.append(el("li", "", name + required + (prop.description ? ": " + prop.description : "")));
          }
          card.append(Object.keys(props).length ? list : el("pre", "evidence-text", JSON.stringify(schema, null, 2)));
        }
      }
      root.append(card);
    }
  }
})();
