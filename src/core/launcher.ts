// What bin/osvc.js's shell line hands over to node: NODE_EXTRA_CA_CERTS travels in this variable
// (node starts without it: see bin/osvc.js) and osvc puts it back before it does anything
// (src/cli/main.ts runProcess). A vol's own action, where osvc starts itself, hands it over the same way.
export const HANDED_OVER_CA_CERTS = "OSVC_SAVED_NODE_EXTRA_CA_CERTS";
