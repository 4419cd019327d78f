//! Property test: the indexed strategy decides exactly as the plain linear reference does, on
//! random documents, identities and requests drawn from a small alphabet so that they collide.

use std::sync::Arc;

use mqward_core::{Builder, Request, Strategy as MatchStrategy};
use proptest::prelude::*;

mod generators;
use generators::{document, identity, request};

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn indexed_agrees_with_linear(
        doc in document(),
        ids in prop::collection::vec(identity(), 1..4),
        reqs in prop::collection::vec(request(), 1..12),
    ) {
        let indexed = match Builder::new().strategy(MatchStrategy::Indexed).build(&doc) {
            Ok(s) => Arc::new(s),
            // Generated patterns can be invalid (e.g. `dev-+`): both strategies must refuse.
            Err(e) => {
                prop_assert!(Builder::new().strategy(MatchStrategy::Linear).build(&doc).is_err(), "{e}");
                return Ok(());
            }
        };
        let linear = Arc::new(Builder::new().strategy(MatchStrategy::Linear).build(&doc).unwrap());
        for id in ids {
            let a = indexed.bind(id.clone());
            let b = linear.bind(id.clone());
            for (op, res, qos, retain) in &reqs {
                let mut req = Request::new(*op, res.as_bytes());
                req.qos = *qos;
                req.retain = *retain;
                let da = a.decide(&req);
                let db = b.decide(&req);
                prop_assert_eq!(
                    (da.effect, da.statement().map(|s| (s.policy(), s.id()))),
                    (db.effect, db.statement().map(|s| (s.policy(), s.id()))),
                    "identity {:?}, request {:?} {:?} qos {:?} retain {:?}\n{}",
                    id, op, res, qos, retain, doc.to_json_pretty()
                );
            }
        }
    }
}
