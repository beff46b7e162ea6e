// Reference modifiers: {upper:x}, {lower:x}, {capitalize:x}, {title:x}, {swapcase:x}, {uri_ip:x}.
import type { RefAst } from "../../grammar/index.js";

export function applyModifier(text: string, mod: RefAst["modifier"]): string {
  switch (mod) {
    case "upper":
      return text.toUpperCase();
    case "lower":
      return text.toLowerCase();
    case "capitalize":
      return text ? text[0].toUpperCase() + text.slice(1).toLowerCase() : text;
    case "title":
      return text.toLowerCase().replace(/(^|[^A-Za-z])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());
    case "swapcase":
      return [...text].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
    case "uri_ip":
      return text.includes(":") && !text.startsWith("[") ? `[${text}]` : text;
    default:
      return text;
  }
}
