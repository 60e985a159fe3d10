use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

#[test]
fn reads_a_complete_configuration() {
    let source = env(&[
        (DISCORD_PUBLIC_KEY, KEY),
        (SETTINGS_URL, "https://guildbridge.example/settings/"),
        (STATE_SIGNING_KEY, "0123456789abcdef0123456789abcdef"),
        (SIGNATURE_MAX_AGE_SECS, "60"),
    ]);
    let config = InteractionsConfig::from_source(&source).expect("valid configuration");
    assert_eq!(config.settings_url.as_str(), "https://guildbridge.example/settings");
    assert_eq!(config.signature_max_age, Duration::from_secs(60));
    assert_eq!(hex::encode(config.public_key.as_bytes()), KEY);
}

#[test]
fn names_every_missing_and_malformed_variable_at_once() {
    let source =
        env(&[(DISCORD_PUBLIC_KEY, "zz"), (STATE_SIGNING_KEY, "short"), (SIGNATURE_MAX_AGE_SECS, "five minutes")]);
    let err = InteractionsConfig::from_source(&source).expect_err("invalid configuration");
    let names: Vec<&str> = err.problems.iter().map(VarProblem::name).collect();
    assert_eq!(names, [DISCORD_PUBLIC_KEY, SETTINGS_URL, STATE_SIGNING_KEY, SIGNATURE_MAX_AGE_SECS]);
    let message = err.to_string();
    assert!(message.contains("SETTINGS_URL is not set"), "{message}");
    assert!(!message.contains("short"), "values never appear in errors: {message}");
}

#[test]
fn discord_defaults_to_the_real_api_and_hides_the_token() {
    let config = DiscordConfig::from_source(&env(&[(DISCORD_BOT_TOKEN, "very-secret-bot-token")])).expect("valid");
    assert_eq!(config.api_base_url.as_str(), "https://discord.com/api/v10");
    assert!(!format!("{config:?}").contains("very-secret"));
    let sandbox = DiscordConfig::from_source(&env(&[
        (DISCORD_BOT_TOKEN, "t"),
        (DISCORD_API_BASE_URL, "http://127.0.0.1:8788/api/v10/"),
    ]))
    .expect("valid");
    assert_eq!(sandbox.api_base_url.as_str(), "http://127.0.0.1:8788/api/v10");
    let missing = DiscordConfig::from_source(&env(&[])).expect_err("no token");
    assert_eq!(missing.problems, [VarProblem::Missing { name: DISCORD_BOT_TOKEN }]);
}

#[test]
fn table_names_follow_dynamodb_rules() {
    let ok = StoreConfig::from_source(&env(&[(TABLE_NAME, "guildbridge-prod")]));
    assert_eq!(ok.map(|c| c.table_name), Ok("guildbridge-prod".to_owned()));
    for bad in ["ab", "no spaces", "x/y"] {
        let err = StoreConfig::from_source(&env(&[(TABLE_NAME, bad)])).expect_err(bad);
        assert!(matches!(err.problems[..], [VarProblem::Malformed { name: TABLE_NAME, .. }]), "{bad}");
    }
    assert!(StoreConfig::from_source(&env(&[])).is_err());
}

#[test]
fn bounds_that_keep_claims_and_signatures_safe_are_enforced_at_init() {
    let worker = |stale: &str| {
        WorkerConfig::from_source(&env(&[
            (DISCORD_APPLICATION_ID, "1"),
            (STATE_SIGNING_KEY, "0123456789abcdef0123456789abcdef"),
            (CLAIM_STALE_SECS, stale),
        ]))
    };
    for overlapping in ["0", "30", "60"] {
        let err = worker(overlapping).expect_err(overlapping);
        assert!(err.to_string().contains("CLAIM_STALE_SECS"), "{err}");
    }
    assert_eq!(worker("61").map(|c| c.claim_stale_after).ok(), Some(Duration::from_secs(61)));
    let unset = WorkerConfig::from_source(&env(&[(DISCORD_APPLICATION_ID, "0")])).expect_err("no id, no key");
    let names: Vec<_> = unset.problems.iter().map(VarProblem::name).collect();
    assert_eq!(names, [DISCORD_APPLICATION_ID, STATE_SIGNING_KEY], "every problem is named at once");
    let interactions = |age: &str| {
        InteractionsConfig::from_source(&env(&[
            (DISCORD_PUBLIC_KEY, KEY),
            (SETTINGS_URL, "https://guildbridge.example"),
            (STATE_SIGNING_KEY, "0123456789abcdef0123456789abcdef"),
            (SIGNATURE_MAX_AGE_SECS, age),
        ]))
    };
    for bad in ["0", "3601", "3153600000"] {
        assert!(interactions(bad).is_err(), "{bad} seconds accepted");
    }
    for good in ["1", "300", "3600"] {
        assert!(interactions(good).is_ok(), "{good} seconds refused");
    }
}

#[test]
fn debug_output_hides_the_state_key() {
    let source = env(&[
        (DISCORD_PUBLIC_KEY, KEY),
        (SETTINGS_URL, "https://guildbridge.example"),
        (STATE_SIGNING_KEY, "a-very-secret-state-signing-key-123"),
    ]);
    let config = InteractionsConfig::from_source(&source).expect("valid configuration");
    assert!(!format!("{config:?}").contains("a-very-secret"));
    assert_eq!(config.signature_max_age, DEFAULT_MAX_AGE);
}
