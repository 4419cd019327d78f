//! The ExHook protocol, generated at build time from `proto/emqx/exhook/{v2,v3}/exhook.proto`.
//!
//! The messages live in [`v2`]; [`v3`] holds only its service and client, over the same message
//! types (the packages are wire compatible and differ in their gRPC paths).

#![allow(missing_docs, clippy::all)]

/// Package `emqx.exhook.v2` (EMQX 5.0 to 5.8): the messages, the `HookProvider` service and
/// its client.
pub mod v2 {
    tonic::include_proto!("emqx.exhook.v2");
}

/// Package `emqx.exhook.v3` (EMQX 5.9 and later): the `HookProvider` service and its client
/// over [`v2`]'s messages.
pub mod v3 {
    tonic::include_proto!("emqx.exhook.v3");
}

impl std::fmt::Debug for v2::ClientInfo {
    /// Every field but the password, which shows only whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInfo")
            .field("node", &self.node)
            .field("clientid", &self.clientid)
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() { "" } else { "..." },
            )
            .field("peerhost", &self.peerhost)
            .field("sockport", &self.sockport)
            .field("protocol", &self.protocol)
            .field("mountpoint", &self.mountpoint)
            .field("is_superuser", &self.is_superuser)
            .field("anonymous", &self.anonymous)
            .field("cn", &self.cn)
            .field("dn", &self.dn)
            .field("peerport", &self.peerport)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::v2::ClientInfo;

    /// The two packages' files must stay the same protocol: they may differ only in the
    /// package's name.
    #[test]
    fn both_packages_hold_the_same_protocol() {
        let v2 = include_str!("../proto/emqx/exhook/v2/exhook.proto");
        let v3 = include_str!("../proto/emqx/exhook/v3/exhook.proto");
        let neutral = |text: &str, version: &str, other: &str| {
            text.replace(&format!("emqx.exhook.{version}"), "PACKAGE")
                .replace(&format!("emqx.exhook.{other}"), "OTHER")
                .replace(&format!("Exhook.{}", version.to_uppercase()), "PACKAGE")
                .replace(&format!("{version}/exhook.proto"), "OTHER-FILE")
                .replace(&format!("{other}/exhook.proto"), "OTHER-FILE")
                .lines()
                .filter(|l| !l.starts_with("// EMQX ExHook protocol") && !l.contains("(EMQX 5."))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(neutral(v2, "v2", "v3"), neutral(v3, "v3", "v2"));
        assert!(v2.contains("package emqx.exhook.v2;") && v3.contains("package emqx.exhook.v3;"));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let info = ClientInfo {
            clientid: "c1".into(),
            password: "hunter2".into(),
            ..ClientInfo::default()
        };
        let text = format!("{info:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"c1\""), "{text}");
    }
}
