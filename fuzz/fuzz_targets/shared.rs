//! One engine per fuzzing process, on a temporary data dir, holding a few contacts and a
//! custom field of each kind the targets touch.

use std::sync::OnceLock;

use contactdex::audit::Origin;
use contactdex::{Config, Engine};

pub const WS: &str = "fuzz";

pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<(tempfile::TempDir, Engine)> = OnceLock::new();
    &ENGINE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let engine = Engine::open(dir.path(), Config::default()).expect("engine");
            let origin = Origin::system("fuzz");
            let seed = [
                r#"{"id":"a","name":"José da Silva 🙂","phones":["+55 11 98765-4321"],"emails":["Jose@Example.com"],"tags":["vip","lead"]}"#,
                r#"{"id":"b","name":"Дмитрий Иванов","phones":["(212) 555-0100"],"tags":["customer"]}"#,
                r#"{"id":"c","name":"山田 太郎","emails":["taro@example.jp"],"status":"active"}"#,
            ];
            let lines = seed.iter().enumerate().map(|(i, l)| (i + 1, l.to_string()));
            engine.bulk(WS, lines, &origin).expect("seed");
            (dir, engine)
        })
        .1
}
