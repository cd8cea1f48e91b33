//! Wait estimates against the waits that happened, on the real engine. The throughput estimate
//! (`lobby_sim::estimate::throughput`) must beat both the engine's `queue_position` estimate and
//! Rocket.Chat's formula; the engine's is kept honest here until it adopts a better one.

use lobby_sim::{simulate, Origin, RunOptions, ScenarioFile};

fn scores(toml: &str) -> lobby_sim::Summary {
    let scenario = ScenarioFile::parse("s.toml", toml).unwrap().validate(Origin::File).unwrap();
    simulate(&scenario, RunOptions::default()).unwrap().methods[0].summary.clone()
}

#[test]
fn the_throughput_estimate_beats_the_engine_and_rocket_chat() {
    // 71 % occupancy on 14 agents (the issue's Erlang C example), then a busier department with
    // chats of three at once, lognormal handle times and impatient visitors.
    for toml in [
        r#"
        hours = 3
        warm_up = "30min"
        replications = 2
        [[department]]
        name = "support"
        arrival_rate = "200/h"
        handle_time = "180s"
        agents = 14
        "#,
        r#"
        hours = 2
        warm_up = "30min"
        replications = 2
        routing = "load-balancing"
        [[department]]
        name = "sales"
        arrival_rate = "400/h"
        handle_time = { distribution = "lognormal", mean = "6min", sd = "5min" }
        patience = "3min"
        agents = 14
        capacity = 3
        "#,
    ] {
        let s = scores(toml);
        let engine = s.estimates_queued.engine.score();
        let rocket_chat = s.estimates_queued.rocket_chat.score();
        let throughput = s.estimates_queued.throughput.score();
        eprintln!("queued: engine {engine:?}\n  rocket.chat {rocket_chat:?}\n  throughput {throughput:?}");
        assert!(throughput.scored > 100, "enough conversations waited to score: {}", throughput.scored);
        assert!(throughput.coverage > 0.99 && engine.coverage > 0.9, "{throughput:?} {engine:?}");
        assert!(throughput.mae_seconds * 3.0 < engine.mae_seconds, "{throughput:?} vs engine {engine:?}");
        assert!(throughput.mae_seconds * 3.0 < rocket_chat.mae_seconds, "{throughput:?} vs {rocket_chat:?}");
        // The engine counts a whole handle time for each round of `slots` conversations ahead,
        // so a visitor first in line is promised a full handle time: it overestimates.
        assert!(engine.bias_seconds > 0.5 * engine.mae_seconds, "{engine:?}");
        // Over every served conversation (most found a free agent and waited 0), too.
        let all_engine = s.estimates_all.engine.score();
        let all_throughput = s.estimates_all.throughput.score();
        assert!(all_throughput.mae_seconds < all_engine.mae_seconds, "{all_throughput:?} vs {all_engine:?}");
    }
}
