//! The gateway on Discord, as a user sees it: the real binary against a fake Discord (gateway
//! WebSocket + REST) and a fake OpenAI-compatible model on loopback.

mod common;

use common::{WAIT, bin};

use hermes_testkit::{
    DISCORD_BOT_ID, DISCORD_TOKEN, DiscordMessage, DiscordUser, FakeDiscord, FakeLlm, Gateway, GatewayOp, HermesHome,
};

const GUILD: &str = "100000000000000001";
const GENERAL: &str = "100000000000000002";
const ANN_DM: &str = "300000000000000042";

fn ann() -> DiscordUser {
    DiscordUser::new("420000000000000042", "Ann")
}

fn wait_content(dc: &FakeDiscord, channel: &str, text: &str) -> DiscordMessage {
    dc.wait_sent(WAIT, |m| m.channel_id == channel && m.content == text)
        .unwrap_or_else(|| panic!("no bot message {text:?} in {channel}; sent: {:#?}", dc.sent()))
}

fn identifies(dc: &FakeDiscord) -> usize {
    dc.gateway_log().iter().filter(|e| matches!(e.op, GatewayOp::Identify { .. })).count()
}

/// Starts the gateway for Ann and waits until it identified and got READY (its first heartbeat).
fn start(dc: &FakeDiscord, llm: &FakeLlm, extra_env: &str) -> (HermesHome, Gateway) {
    let home = HermesHome::discord(dc, llm, &ann().id, extra_env);
    let gw = Gateway::start(bin(), &home);
    assert!(
        dc.wait_gateway(WAIT, |log| log.iter().any(|e| matches!(e.op, GatewayOp::Heartbeat { .. }))),
        "no heartbeat; gateway log: {:?}\n{}",
        dc.gateway_log(),
        gw.output()
    );
    (home, gw)
}

#[test]
fn identify_heartbeat_and_a_dm_answered() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");

    let log = dc.gateway_log();
    let GatewayOp::Connected { target } = &log[0].op else { panic!("{log:?}") };
    assert!(target.contains("v=10") && target.contains("encoding=json"), "{target}");
    let identify = log.iter().find_map(|e| match &e.op {
        GatewayOp::Identify { token, intents } => Some((token.clone(), *intents)),
        _ => None,
    });
    // GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT
    assert_eq!(identify, Some((DISCORD_TOKEN.to_string(), 1 | 1 << 9 | 1 << 12 | 1 << 15)));
    assert!(dc.calls().iter().any(|c| c.path == "/gateway/bot"), "the gateway URL came from /gateway/bot");

    let asked = dc.dm(ANN_DM, &ann(), "hi there");
    let answer = wait_content(&dc, ANN_DM, "echo: hi there");
    assert_eq!(answer.allowed_mentions.as_deref(), Some(r#"{"parse":[]}"#), "the bot may ping people");
    assert_eq!(answer.reply_to, Some(asked), "the answer references the question (reply mode first)");
    assert!(dc.calls().iter().any(|c| c.path == format!("/channels/{ANN_DM}/typing")), "no typing indicator");
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].last_user(), Some("hi there"));
}

#[test]
fn guild_messages_need_a_mention() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");

    dc.guild_message(GUILD, GENERAL, &ann(), "talking among ourselves");
    dc.guild_message(GUILD, GENERAL, &ann(), &format!("{} what is up?", dc.mention()));
    wait_content(&dc, GENERAL, "echo: what is up?");
    dc.dm(ANN_DM, &ann(), "and here");
    wait_content(&dc, ANN_DM, "echo: and here");
    let seen: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(seen, ["what is up?", "and here"], "the model saw {seen:?}");
    assert_eq!(dc.sent().iter().filter(|m| m.channel_id == GENERAL).count(), 1);
}

#[test]
fn op7_reconnect_resumes_the_session_and_delivers_what_was_missed() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");
    dc.dm(ANN_DM, &ann(), "before");
    wait_content(&dc, ANN_DM, "echo: before");
    let session = dc.session_ids()[0].clone();
    let seq = dc.last_seq(&session);

    dc.force_reconnect();
    assert!(
        dc.wait_gateway(WAIT, |log| log.iter().any(|e| matches!(e.op, GatewayOp::Resume { .. }))),
        "no Resume after op 7: {:?}",
        dc.gateway_log()
    );
    let log = dc.gateway_log();
    let (conn, resume) = log
        .iter()
        .find_map(|e| match &e.op {
            GatewayOp::Resume { session_id, seq } => Some((e.conn, (session_id.clone(), *seq))),
            _ => None,
        })
        .unwrap();
    assert_eq!(resume, (session.clone(), seq), "resumed with the wrong session or sequence");
    let target = log.iter().find_map(|e| match &e.op {
        GatewayOp::Connected { target } if e.conn == conn => Some(target.clone()),
        _ => None,
    });
    assert!(target.unwrap_or_default().contains("resume=1"), "the resume_gateway_url was not used: {log:?}");
    assert_eq!(identifies(&dc), 1, "a resume must not identify again");

    dc.dm(ANN_DM, &ann(), "after");
    wait_content(&dc, ANN_DM, "echo: after");
}

#[test]
fn an_invalid_session_leads_to_a_new_identify() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");
    dc.invalid_session(false);
    assert!(
        hermes_testkit::wait_until(WAIT, || identifies(&dc) == 2 && dc.session_ids().len() == 2),
        "no new Identify after op 9: {:?}",
        dc.gateway_log()
    );
    assert!(!dc.gateway_log().iter().any(|e| matches!(e.op, GatewayOp::Resume { .. })), "resumed a dead session");
    dc.dm(ANN_DM, &ann(), "still there?");
    wait_content(&dc, ANN_DM, "echo: still there?");
}

#[test]
fn a_missing_heartbeat_ack_reconnects_and_resumes() {
    let dc = FakeDiscord::start_with(300);
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");
    dc.set_heartbeat_ack(false);
    assert!(
        dc.wait_gateway(WAIT, |log| log.iter().any(|e| matches!(e.op, GatewayOp::Resume { .. }))),
        "no reconnect after unanswered heartbeats: {:?}",
        dc.gateway_log()
    );
    dc.set_heartbeat_ack(true);
    let log = dc.gateway_log();
    let first = log.iter().find_map(|e| match &e.op {
        GatewayOp::Resume { session_id, .. } => Some(session_id.clone()),
        _ => None,
    });
    assert_eq!(first, Some(dc.session_ids()[0].clone()));
    dc.dm(ANN_DM, &ann(), "ping");
    wait_content(&dc, ANN_DM, "echo: ping");
}

#[test]
fn a_429_on_send_is_honoured() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "");
    dc.rate_limit_next_send(ANN_DM, 0.3);
    dc.dm(ANN_DM, &ann(), "hello");
    wait_content(&dc, ANN_DM, "echo: hello");
    let posts: Vec<_> = dc
        .calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == format!("/channels/{ANN_DM}/messages"))
        .collect();
    assert!(posts.len() >= 2, "the limited send was not retried: {posts:?}");
    assert_eq!(dc.sent().iter().filter(|m| m.channel_id == ANN_DM).count(), 1, "one message, sent once");
}

#[test]
fn a_bad_token_close_is_fatal_with_a_clear_message() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (home, gw) = start(&dc, &llm, "");
    dc.close_with(4014);
    let said = |needle: &str| gw.output().contains(needle) || home.log().contains(needle);
    assert!(
        hermes_testkit::wait_until(WAIT, || said("MESSAGE CONTENT intent")),
        "no clear message for close 4014:\n{}",
        gw.output()
    );
    assert!(!dc.gateway_log().iter().any(|e| matches!(e.op, GatewayOp::Resume { .. })), "a fatal close was retried");
    let _ = DISCORD_BOT_ID;
}

#[test]
fn after_a_crash_the_stored_cursor_resumes_and_the_missed_message_is_answered() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (home, mut gw) = start(&dc, &llm, "");
    dc.dm(ANN_DM, &ann(), "first");
    wait_content(&dc, ANN_DM, "echo: first");
    let session = dc.session_ids()[0].clone();
    let journaled = dc.last_seq(&session);
    gw.kill9();

    dc.dm(ANN_DM, &ann(), "while you were down");
    let _gw = Gateway::start(bin(), &home);
    wait_content(&dc, ANN_DM, "echo: while you were down");
    let resume = dc.gateway_log().iter().find_map(|e| match &e.op {
        GatewayOp::Resume { session_id, seq } => Some((session_id.clone(), *seq)),
        _ => None,
    });
    assert_eq!(resume, Some((session, journaled)), "the restart did not resume from the journaled cursor");
    assert_eq!(identifies(&dc), 1);
    let firsts = llm.requests().iter().filter(|r| r.last_user() == Some("first")).count();
    assert_eq!(firsts, 1, "the replay answered an already journaled message again");
}

#[test]
fn a_member_with_an_allowed_role_is_answered_without_being_on_the_user_list() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (_home, _gw) = start(&dc, &llm, "DISCORD_ALLOWED_ROLES=777\n");
    let bea = DiscordUser::new("430000000000000043", "Bea").with_roles(&["777"]);
    let cid = DiscordUser::new("440000000000000044", "Cid").with_roles(&["555"]);
    dc.guild_message(GUILD, GENERAL, &cid, &format!("{} from cid", dc.mention()));
    dc.guild_message(GUILD, GENERAL, &bea, &format!("{} from bea", dc.mention()));
    wait_content(&dc, GENERAL, "echo: from bea");
    let seen: Vec<String> = llm.requests().iter().filter_map(|r| r.last_user().map(str::to_string)).collect();
    assert_eq!(seen, ["from bea"], "a member without the role never reaches the model");
}

#[test]
fn a_clean_restart_resumes_too_and_answers_what_arrived_meanwhile() {
    let dc = FakeDiscord::start();
    let llm = FakeLlm::start();
    let (home, mut gw) = start(&dc, &llm, "");
    dc.dm(ANN_DM, &ann(), "before the restart");
    wait_content(&dc, ANN_DM, "echo: before the restart");
    gw.terminate();
    assert_eq!(gw.wait_exit(WAIT), Some(0));
    let closed = dc.gateway_log().iter().find_map(|e| match e.op {
        GatewayOp::Closed { code } => Some(code),
        _ => None,
    });
    assert_ne!(closed, Some(Some(1000)), "a 1000 close would end the Discord session");

    dc.dm(ANN_DM, &ann(), "sent during the restart");
    let _gw = Gateway::start(bin(), &home);
    wait_content(&dc, ANN_DM, "echo: sent during the restart");
    assert_eq!(identifies(&dc), 1, "resumed, not identified anew");
}
