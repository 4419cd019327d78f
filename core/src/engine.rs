//! The engine: the current snapshot behind an `ArcSwap`, so decisions never wait while a new
//! document is compiled and swapped in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::compile::{Builder, Snapshot};
use crate::decision::Decision;
use crate::error::Error;
use crate::identity::Identity;
use crate::policy::Document;
use crate::principal::Principal;
use crate::request::Request;

/// The one facade every surface calls. `Send + Sync`: many threads decide while another reloads.
#[derive(Debug)]
pub struct Engine {
    current: ArcSwap<Snapshot>,
    generation: AtomicU64,
    /// Serializes installs so that generations and snapshots stay paired; deciders never take it.
    installing: Mutex<()>,
    builder: Builder,
}

impl Engine {
    /// An engine over a compiled snapshot.
    pub fn new(builder: Builder, mut snapshot: Snapshot) -> Engine {
        snapshot.generation = 1;
        Engine {
            current: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(1),
            installing: Mutex::new(()),
            builder,
        }
    }

    /// Compiles a document with the default builder.
    pub fn from_document(doc: &Document) -> Result<Engine, Error> {
        let builder = Builder::new();
        let snapshot = builder.build(doc)?;
        Ok(Engine::new(builder, snapshot))
    }

    /// Reads and compiles a JSON document (native or Greengrass).
    pub fn from_json(bytes: &[u8]) -> Result<Engine, Error> {
        Engine::from_document(&Document::from_json(bytes)?)
    }

    /// Compiles a new document and swaps it in. On error the previous snapshot stays in force
    /// and every problem is returned.
    pub fn reload(&self, doc: &Document) -> Result<(), Error> {
        let snapshot = self.builder.build(doc)?;
        self.install(snapshot);
        Ok(())
    }

    /// [`Engine::reload`] from JSON bytes.
    pub fn reload_json(&self, bytes: &[u8]) -> Result<(), Error> {
        self.reload(&Document::from_json(bytes)?)
    }

    /// Swaps in a snapshot compiled elsewhere.
    pub fn install(&self, mut snapshot: Snapshot) {
        // A poisoned lock only means another install panicked; the pairing it guards is intact.
        let _guard = self
            .installing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let generation = self.generation.load(Ordering::Acquire).wrapping_add(1);
        snapshot.generation = generation;
        self.current.store(Arc::new(snapshot));
        // Published after the store: a decider that sees the new generation loads the new
        // snapshot; one that still sees the old generation decides once more on the old one.
        self.generation.store(generation, Ordering::Release);
    }

    /// The snapshot in force now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Binds an identity to the snapshot in force.
    pub fn bind(&self, identity: Identity) -> Principal {
        self.snapshot().bind(identity)
    }

    /// Decides a request for a principal, first rebinding it if a reload happened since it was
    /// bound, so that live sessions follow the new policy without reconnecting.
    pub fn authorize<'p>(
        &self,
        principal: &'p mut Principal,
        request: &Request<'_>,
    ) -> Decision<'p> {
        if principal.snapshot().generation() != self.generation.load(Ordering::Acquire) {
            principal.rebind(self.snapshot());
        }
        principal.decide(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentityKind;

    fn doc(topic: &str) -> Document {
        Document::from_json(
            format!(
                r#"{{"version":1,"groups":[{{"name":"all","selectionRule":"*","policies":["p"]}}],
                "policies":{{"p":[{{"id":"s","effect":"allow","operations":["publish"],
                "resources":["topic:{topic}"]}}]}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn reload_applies_to_bound_principals_and_bad_reload_keeps_old() {
        let engine = Engine::from_document(&doc("a/#")).unwrap();
        let mut p = engine.bind(Identity::new(IdentityKind::Password).with_username("u"));
        assert!(engine
            .authorize(&mut p, &Request::publish("a/x"))
            .is_allowed());
        engine.reload(&doc("b/#")).unwrap();
        assert!(!engine
            .authorize(&mut p, &Request::publish("a/x"))
            .is_allowed());
        assert!(engine
            .authorize(&mut p, &Request::publish("b/x"))
            .is_allowed());
        assert_eq!(p.identity().username(), Some("u"));
        let err = engine.reload(&doc("c/#/d")).unwrap_err();
        assert!(err.to_string().contains("resource 0"), "{err}");
        assert!(engine
            .authorize(&mut p, &Request::publish("b/x"))
            .is_allowed());
    }

    #[test]
    fn engine_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Engine>();
        check::<Principal>();
        check::<Snapshot>();
    }
}
