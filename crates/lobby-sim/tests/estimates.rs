//! Wait estimates against the waits that happened, on the real engine. The engine's
//! `queue_position` estimate must score as well as the throughput estimate the simulator computes
//! from its own view of the queue (`lobby_sim::estimate::throughput`, the formula the engine
//! adopted), and both must beat Rocket.Chat's formula by far.

use lobby_sim::{simulate, Origin, RunOptions, ScenarioFile};

fn scores(toml: &str) -> lobby_sim::Summary {
    let scenario = ScenarioFile::parse("s.toml", toml).unwrap().validate(Origin::File).unwrap();
    simulate(&scenario, RunOptions::default()).unwrap().methods[0].summary.clone()
}

#[test]
fn the_engine_estimates_as_well_as_throughput_and_far_better_than_rocket_chat() {
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
        assert!(engine.mae_seconds <= throughput.mae_seconds * 1.1 + 1.0, "engine {engine:?} vs {throughput:?}");
        assert!(engine.mae_seconds * 3.0 < rocket_chat.mae_seconds, "engine {engine:?} vs {rocket_chat:?}");
        assert!(throughput.mae_seconds * 3.0 < rocket_chat.mae_seconds, "{throughput:?} vs {rocket_chat:?}");
        // Over every served conversation (most found a free agent and waited 0), too.
        let all_engine = s.estimates_all.engine.score();
        let all_throughput = s.estimates_all.throughput.score();
        assert!(
            all_engine.mae_seconds <= all_throughput.mae_seconds * 1.1 + 1.0,
            "{all_engine:?} vs {all_throughput:?}"
        );
    }
}
