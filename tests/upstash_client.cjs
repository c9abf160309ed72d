// One call of the real @upstash/workflow Client against a hitl-web process, its answer printed as JSON.
// usage: node upstash_client.cjs <notify|getWaiters|cancel|logs> '<JSON argument>'
// env: UPSTASH_WORKFLOW (the installed package's directory), BASE_URL, TOKEN
const { Client } = require(process.env.UPSTASH_WORKFLOW);

const client = new Client({ baseUrl: process.env.BASE_URL, token: process.env.TOKEN, retry: false });
const [op, raw] = process.argv.slice(2);

client[op](JSON.parse(raw || "null"))
  .then((answer) => console.log(JSON.stringify({ ok: true, answer: answer === undefined ? null : answer })))
  .catch((error) => console.log(JSON.stringify({ ok: false, status: error.status ?? null, error: String(error.message) })));
