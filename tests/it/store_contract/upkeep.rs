//! The database itself: the wipe (`reset`), `ping`, `close` and the backend's upkeep.

use std::time::Duration;

use callerid_emulator::domain::call::Behavior;

use super::fixtures::*;

contract_tests! {
    /// `reset` wipes caller IDs, calls, callbacks, keys, behaviours and control-made
    /// accounts, and keeps the configured accounts.
    async fn reset_keeps_only_the_configured_accounts(b: Backend) {
        let s = &b.store;
        let configured = account(true);
        s.sync_configured_accounts(std::slice::from_ref(&configured))
            .await
            .expect("sync");
        let control = new_account(s).await;
        let key = api_key(&configured.sid);
        s.create_api_key(&key).await.expect("key");
        let id = seed_caller_id(s, &configured.sid, &phone(1)).await;
        s.set_behavior(&configured.sid, &phone(2), Behavior::Busy)
            .await
            .expect("behavior");
        let (pending, _) = Request::new(&configured.sid, &phone(3))
            .queued(5)
            .created(s)
            .await;
        let ended = ended_call_with_callback(s, &configured.sid, &phone(4), T0).await;
        assert!(s.callback_counts().await.expect("counts").unsettled > 0);

        s.reset().await.expect("reset");

        let kept = s
            .account(&configured.sid)
            .await
            .expect("account")
            .expect("configured");
        assert!(kept.configured);
        let cred = s
            .credential(configured.sid.as_str())
            .await
            .expect("cred")
            .expect("some");
        assert_eq!(cred.secret, configured.auth_token);
        assert!(s.account(&control).await.expect("account").is_none());
        assert!(s
            .credential(control.as_str())
            .await
            .expect("credential")
            .is_none());
        assert!(s
            .credential(key.sid.as_str())
            .await
            .expect("credential")
            .is_none());
        assert!(s
            .caller_id(&configured.sid, &id)
            .await
            .expect("get")
            .is_none());
        assert!(listed(s, &configured.sid).await.is_empty());
        assert_eq!(
            s.behavior(&configured.sid, &phone(2))
                .await
                .expect("behavior"),
            None
        );
        assert_eq!(s.call(&pending).await.expect("call"), None);
        assert_eq!(s.call(&ended).await.expect("call"), None);
        assert_eq!(s.pending_calls().await.expect("pending"), 0);
        assert_eq!(s.next_call_due().await.expect("next"), None);
        assert!(s
            .callbacks(None, None, 10)
            .await
            .expect("callbacks")
            .is_empty());
        assert_eq!(s.next_callback_due().await.expect("next"), None);
        assert_eq!(
            s.callback_counts().await.expect("counts"),
            Default::default()
        );
        // The number is free again on the configured account.
        seed_caller_id(s, &configured.sid, &phone(1)).await;
    }

    /// `ping` answers while the store is open and fails once it is closed.
    async fn ping_then_close(b: Backend) {
        let s = &b.store;
        s.ping().await.expect("ping");
        s.close().await;
        assert!(s.ping().await.is_err(), "ping after close should fail");
    }

    /// The backend's upkeep runs beside reads and writes until told to stop, and then
    /// returns.
    async fn run_upkeep_stops_when_told(b: Backend) {
        let s = b.store.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let upkeep = tokio::spawn(async move { s.run_upkeep(stopped).await });
        // Writes and reads go on beside it.
        let a = new_account(&b.store).await;
        for n in 0..20 {
            seed_caller_id(&b.store, &a, &phone(n)).await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(listed(&b.store, &a).await.len(), 20);
        // A backend with nothing to keep up (SQLite in memory) may have returned already and
        // dropped its receiver.
        let _ = stop.send(true);
        tokio::time::timeout(Duration::from_secs(5), upkeep)
            .await
            .expect("upkeep stops within 5 s")
            .expect("upkeep task");
        b.store.ping().await.expect("ping");
    }
}
