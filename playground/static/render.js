// Slack message content → HTML, the way Slack's client shows it. Everything is escaped first;
// only the tags built here reach the page. Two dialects: Slack's mrkdwn (people's messages,
// section and context blocks) and standard Markdown (the bot's `markdown` blocks).
"use strict";

const Render = (() => {
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
  // Slack stores message text with &, < and > escaped; <…> are its links and mentions.
  const unslack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

  let names = {};  // user id → display name, set from each snapshot
  const setNames = (map) => { names = map; };

  function safeUrl(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }

  function mention(id) {
    return `<span class="mention" data-user="${esc(id)}">@${esc(names[id] || id)}</span>`;
  }

  // A Slack special token: <@U…>, <#C…|name>, <!here>, <url|label>.
  function slackToken(body) {
    const [target, label] = body.split("|", 2);
    if (/^@[UW][A-Z0-9]+$/.test(target)) return mention(target.slice(1));
    if (target.startsWith("#")) return `<span class="mention">#${esc(label || target.slice(1))}</span>`;
    if (target.startsWith("!")) return `<span class="mention">@${esc(target.slice(1))}</span>`;
    const url = safeUrl(target);
    return url ? `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(label || target)}</a>`
               : esc(`<${body}>`);
  }

  function mrkdwnInline(escaped) {
    return escaped
      .replace(/`([^`\n]+)`/g, "<code>$1</code>")
      .replace(/(^|[\s(])\*([^*\n]+)\*(?=$|[\s).,!?:;])/g, "$1<strong>$2</strong>")
      .replace(/(^|[\s(])_([^_\n]+)_(?=$|[\s).,!?:;])/g, "$1<em>$2</em>")
      .replace(/(^|[\s(])~([^~\n]+)~(?=$|[\s).,!?:;])/g, "$1<del>$2</del>");
  }

  // mrkdwn as Slack stores it (escaped, with <…> tokens).
  function mrkdwn(text) {
    const parts = String(text || "").split(/(```[\s\S]*?```)/);
    return parts.map((part) => {
      if (part.startsWith("```") && part.endsWith("```") && part.length >= 6) {
        return `<pre><code>${esc(unslack(part.slice(3, -3)).replace(/^\n/, ""))}</code></pre>`;
      }
      let html = "", last = 0;
      for (const m of part.matchAll(/<([^<>\n]+)>/g)) {
        html += mrkdwnInline(esc(unslack(part.slice(last, m.index))));
        html += slackToken(m[1]);
        last = m.index + m[0].length;
      }
      html += mrkdwnInline(esc(unslack(part.slice(last))));
      return html.replace(/\n/g, "<br>");
    }).join("");
  }

  // Inline Markdown on raw text: code spans are cut out first so nothing inside them is formatted.
  function mdInline(raw) {
    const spans = [];
    let text = raw.replace(/`([^`\n]+)`/g, (_, code) => { spans.push(code); return `\u0000${spans.length - 1}\u0000`; });
    text = esc(text)
      .replace(/&lt;@([UW][A-Z0-9]+)&gt;/g, (_, id) => mention(id))
      .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label, url) => {
        const safe = safeUrl(url.replace(/&amp;/g, "&"));
        return safe ? `<a href="${esc(safe)}" target="_blank" rel="noopener noreferrer">${label}</a>` : whole;
      })
      .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\*)/g, "$1<em>$2</em>")
      .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>")
      .replace(/~~([^~\n]+)~~/g, "<del>$1</del>");
    return text.replace(/\u0000(\d+)\u0000/g, (_, n) => `<code>${esc(spans[Number(n)])}</code>`);
  }

  function markdown(src) {
    const lines = String(src || "").split("\n");
    const out = [];
    let paragraph = [];
    const flush = () => {
      if (paragraph.length) out.push(`<p>${paragraph.map(mdInline).join("<br>")}</p>`);
      paragraph = [];
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^\s*```/.test(line)) {
        flush();
        const code = [];
        for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) code.push(lines[i]);
        out.push(`<pre><code>${esc(code.join("\n"))}</code></pre>`);
        continue;
      }
      const heading = line.match(/^(#{1,6})\s+(.*)$/);
      const listItem = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
      if (heading) {
        flush();
        const level = Math.min(4, heading[1].length + 1);
        out.push(`<h${level}>${mdInline(heading[2])}</h${level}>`);
      } else if (/^\s*>/.test(line)) {
        flush();
        const quoted = [];
        for (; i < lines.length && /^\s*>/.test(lines[i]); i++) quoted.push(lines[i].replace(/^\s*>\s?/, ""));
        i--;
        out.push(`<blockquote>${quoted.map(mdInline).join("<br>")}</blockquote>`);
      } else if (listItem) {
        flush();
        const ordered = /\d/.test(listItem[1]);
        const items = [];
        for (; i < lines.length; i++) {
          const item = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
          if (!item || /\d/.test(item[1]) !== ordered) break;
          items.push(`<li>${mdInline(item[2])}</li>`);
        }
        i--;
        out.push(ordered ? `<ol>${items.join("")}</ol>` : `<ul>${items.join("")}</ul>`);
      } else if (!line.trim()) {
        flush();
      } else {
        paragraph.push(line);
      }
    }
    flush();
    return out.join("");
  }

  function textObject(obj) {
    if (!obj) return "";
    return obj.type === "mrkdwn" ? mrkdwn(obj.text) : esc(obj.text || "").replace(/\n/g, "<br>");
  }

  // A message's blocks as {content, actions}: the buttons apart, so that a streaming message can
  // change its text without replacing the Stop button someone is about to click.
  function blocks(message) {
    const shown = [], actions = [];
    for (const block of message.blocks || []) {
      if (block.type === "markdown") shown.push(`<div class="block-markdown">${markdown(block.text)}</div>`);
      else if (block.type === "section") {
        const fields = (block.fields || []).map((f) => `<div class="block-field">${textObject(f)}</div>`).join("");
        shown.push(`<div class="block-section">${textObject(block.text)}${fields ? `<div class="block-fields">${fields}</div>` : ""}</div>`);
      }
      else if (block.type === "header") shown.push(`<div class="block-header"><strong>${textObject(block.text)}</strong></div>`);
      else if (block.type === "context") {
        shown.push(`<div class="block-context">${(block.elements || []).map(textObject).join(" ")}</div>`);
      } else if (block.type === "divider") shown.push("<hr>");
      else if (block.type === "actions") {
        const buttons = (block.elements || []).filter((e) => e.type === "button").map((e) =>
          `<button type="button" class="block-button${e.style === "danger" ? " danger" : ""}" data-testid="block-button"
             data-block-id="${esc(block.block_id || "")}" data-action-id="${esc(e.action_id || "")}">${esc((e.text || {}).text || "")}</button>`);
        actions.push(`<div class="block-actions">${buttons.join("")}</div>`);
      }
    }
    // Slack's client shows the text of a message whose blocks are only the rich_text it typed.
    const content = shown.length ? shown.join("") : mrkdwn(message.text || "");
    return { content, actions: actions.join("") };
  }

  // A modal's or a Home tab's blocks, buttons where the view has them.
  function view(shown) {
    const parts = [];
    for (const block of (shown && shown.blocks) || []) {
      const rendered = blocks({ blocks: [block], text: "" });
      parts.push(rendered.content && block.type !== "actions" ? rendered.content : rendered.actions);
    }
    return parts.join("");
  }

  return { esc, mrkdwn, markdown, blocks, view, setNames };
})();
