// The whole verification flow with twilio-node as a user writes it: no base URL anywhere.
// Where requests go is decided by the environment alone (HTTP_PROXY, which twilio-node's
// request client honours, and NODE_EXTRA_CA_CERTS), or, with EDGE_RESOLVE_TO set, by
// api.twilio.com resolving to that address. Prints one JSON object with what it saw.
import dns from "node:dns";

if (process.env.EDGE_RESOLVE_TO) {
  const lookup = dns.lookup;
  dns.lookup = (host, options, callback) =>
    lookup(host === "api.twilio.com" ? process.env.EDGE_RESOLVE_TO : host, options, callback);
}

const { default: twilio } = await import("twilio");
const [sid, token, phone] = process.argv.slice(2);
const client = twilio(sid, token);
const request = await client.validationRequests.create({
  phoneNumber: phone,
  friendlyName: "node, no base URL",
});
let found = [];
for (let i = 0; i < 600 && found.length === 0; i++) {
  found = await client.outgoingCallerIds.list({ phoneNumber: phone });
  if (found.length === 0) await new Promise((r) => setTimeout(r, 50));
}
const callerId = found[0];
const renamed = await client.outgoingCallerIds(callerId.sid).update({ friendlyName: "renamed by node" });
const call = await client.calls(request.callSid).fetch();
const deleted = await client.outgoingCallerIds(callerId.sid).remove();
console.log(
  JSON.stringify({
    validation_code: request.validationCode,
    call_sid: request.callSid,
    caller_id_sid: callerId.sid,
    renamed: renamed.friendlyName,
    call_status: call.status,
    deleted,
  }),
);
