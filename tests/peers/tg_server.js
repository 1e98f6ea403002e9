// Copied from the project's peer survey (shared/peers/tg_server.js, PEERS.md §3); started by
// tests/peers.rs, installed by tests/peers/install.sh (NODE_PATH=$PEERS/npm-tg/node_modules).
// Changed here: an abandoned long poll stops polling (else it swallows the next update).

// Telegram Bot API emulator on loopback: the real npm package `telegram-test-api` (4.2.1)
// plus a thin fidelity shim (flag --raw disables it) for things strict clients choke on.
// usage: NODE_PATH=${PEERS:-/opt/peers}/npm-tg/node_modules node tg_server.js [PORT] [--raw]
// bot side:   http://127.0.0.1:PORT/bot<TOKEN>/<method>
//   emulator: getMe getUpdates sendMessage editMessageText editMessageReplyMarkup deleteMessage
//             answerCallbackQuery setWebhook deleteWebhook  (others -> HTTP 500 {"message":...})
//   shim adds: getUpdates long-poll (honours timeout, max 25 s), sendChatAction/setMyCommands/
//             deleteMyCommands/setMessageReaction -> true; getMe.is_bot; bot messages get `from`,
//             `date` in seconds (emulator sends ms); editMessageText returns the edited Message;
//             setWebhook -> true and webhook POSTs carry X-Telegram-Bot-Api-Secret-Token (secret_token);
//             updates no longer leak the emulator's internal `botToken` field.
// human side (emulator's own API, not Telegram's):
//   POST /sendMessage {botToken, from:{id,first_name,is_bot:false}, chat:{id,type:"private"}, date, text}
//   POST /sendCallback {botToken, from, message, data, date}
//   POST /getUpdates {token, chatId}   -> bot messages to that chat not yet read (marks read)
//   POST /getUpdatesHistory {token}    -> everything, both directions (edits applied in place)
const TelegramServer = require('telegram-test-api');
const port = parseInt(process.argv[2] || '9000', 10);
const raw = process.argv.includes('--raw');
const server = new TelegramServer({ port, host: '127.0.0.1', storage: 'RAM', storeTimeout: 600 });
const BOT_USER = { id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot' };

function fixMsg(m) {
  if (!m || typeof m !== 'object') return m;
  if (typeof m.date === 'number' && m.date > 1e11) m.date = Math.floor(m.date / 1000);
  if (m.chat && !m.from) m.from = BOT_USER;
  delete m.botToken; delete m.chat_id;
  return m;
}
if (!raw) {
  const app = server.webServer;
  const axios = require('axios');
  const origFormat = TelegramServer.formatUpdate;
  TelegramServer.formatUpdate = (u) => {
    const out = origFormat(u);
    for (const k of ['message', 'callback_query']) if (out[k]) { out[k] = Object.assign({}, out[k]); delete out[k].botToken; }
    return out;
  };
  const origAdd = server.addUserUpdate.bind(server);
  server.addUserUpdate = async (update) => {
    const wh = server.webhooks[update.botToken];
    if (!wh) return origAdd(update);
    const headers = wh.secret_token ? { 'X-Telegram-Bot-Api-Secret-Token': wh.secret_token } : {};
    const resp = await axios({ url: wh.url, method: 'POST', data: TelegramServer.formatUpdate(update), headers, validateStatus: () => true });
    if (resp.status > 204) throw new Error(`Webhook invocation failed: HTTP ${resp.status}`);
    server.updateId++;
  };
  const shim = (req, res, next) => {
    const mm = req.path.match(/^\/bot([^/]+)\/([A-Za-z]+)$/);
    if (!mm) return next();
    const [, token, method] = mm;
    const args = Object.assign({}, req.query, req.body || {});
    if (['sendChatAction', 'setMyCommands', 'deleteMyCommands', 'setMessageReaction'].includes(method))
      return res.json({ ok: true, result: true });
    if (method === 'getMe') return res.json({ ok: true, result: BOT_USER });
    if (method === 'setWebhook') {
      if (!args.url) return res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: bad webhook: url is empty' });
      server.setWebhook(args, token); return res.json({ ok: true, result: true, description: 'Webhook was set' });
    }
    if (method === 'getUpdates') {
      const deadline = Date.now() + Math.min(Number(args.timeout || 0), 25) * 1000;
      // A client that hung up (e.g. a gateway stopped mid-poll) must not consume updates meant
      // for its successor: the emulator marks updates read on first fetch, whatever the offset.
      let gone = false;
      res.on('close', () => { gone = !res.writableEnded; });
      const poll = () => {
        if (gone) return;
        const ups = server.getUpdates(token);
        if (ups.length || Date.now() >= deadline) return res.json({ ok: true, result: ups });
        setTimeout(poll, 100);
      };
      return poll();
    }
    if (method === 'editMessageText') {
      server.editMessageText(Object.assign({}, args));
      const u = server.storage.botMessages.find((x) => String(x.messageId) === String(args.message_id));
      if (!u) return res.status(400).json({ ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
      return res.json({ ok: true, result: fixMsg({ message_id: u.messageId, date: Math.floor(u.time / 1000),
        chat: { id: Number(args.chat_id), type: 'private' }, text: u.message.text, edit_date: Math.floor(Date.now() / 1000) }) });
    }
    const json = res.json.bind(res);
    res.json = (body) => { if (body && body.ok && body.result && !Array.isArray(body.result)) fixMsg(body.result); return json(body); };
    next();
  };
  // run the shim right after the body parsers (layers: query, expressInit, sendResult, json, urlencoded)
  app.use(shim);
  const stack = app._router.stack; const layer = stack.pop();
  const idx = stack.findIndex((l) => l.name === 'urlencodedParser');
  stack.splice(idx + 1, 0, layer);
}
server.start().then(() => console.log(`LISTENING ${server.config.apiURL}${raw ? ' (raw)' : ''}`));
const stop = () => server.stop().then(() => process.exit(0));
process.on('SIGTERM', stop); process.on('SIGINT', stop);
