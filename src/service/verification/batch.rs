//! Callbacks taken together are delivered by receiver: one task per receiver (scheme, host and
//! port) instead of one per callback, and one connection attempt first. When the receiver
//! refuses that connection, the other callbacks of the batch are settled with the same
//! outcome at once, without dialling a host that has just refused, so a receiver that is
//! down costs an attempt row per callback and not a connection attempt each. Otherwise the
//! rest go alongside (at once after the first has answered, or once it has taken longer than
//! [`LEAD`], as a slow receiver does).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use reqwest::Url;

use super::attempt::{deliver, settle_unsent};
use super::recorder::Recorder;
use super::sender::{base_url, MAX_IN_FLIGHT};
use crate::domain::callback::Callback;
use crate::service::Service;

/// How long the other callbacks of a batch wait for the first one's connection.
const LEAD: Duration = Duration::from_millis(50);

/// Parsed StatusCallback URLs at most, before the cache starts again.
const URLS: usize = 1024;

/// A callback with its URL as parsed (without credentials or fragment); `None` when the
/// stored URL does not parse.
pub(super) type Prepared = (Callback, Option<Url>);

/// The StatusCallback URLs seen lately, parsed: most callbacks go to a few receivers.
#[derive(Default)]
pub(super) struct Urls(HashMap<String, Option<Url>>);

impl Urls {
    fn get(&mut self, stored: &str) -> Option<Url> {
        if let Some(url) = self.0.get(stored) {
            return url.clone();
        }
        if self.0.len() >= URLS {
            self.0.clear();
        }
        let url = base_url(stored);
        self.0.insert(stored.to_string(), url.clone());
        url
    }
}

fn same_receiver(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `callbacks` in batches by receiver, in the order each receiver first appears.
pub(super) fn by_receiver(urls: &mut Urls, callbacks: Vec<Callback>) -> Vec<Vec<Prepared>> {
    let mut batches: Vec<Vec<Prepared>> = Vec::new();
    for callback in callbacks {
        let url = urls.get(&callback.url);
        let batch = url.as_ref().and_then(|url| {
            batches.iter_mut().find(|b| {
                b.first()
                    .and_then(|(_, first)| first.as_ref())
                    .is_some_and(|first| same_receiver(first, url))
            })
        });
        match batch {
            Some(batch) => batch.push((callback, url)),
            None => batches.push(vec![(callback, url)]),
        }
    }
    batches
}

type Delivery<'a> = Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;

/// Delivers a batch to one receiver; `busy` counts the callbacks not yet settled, and each
/// one settled wakes the sender (a slot is free).
pub(super) async fn deliver_batch(
    service: Arc<Service>,
    recorder: Recorder,
    busy: Arc<AtomicUsize>,
    batch: Vec<Prepared>,
) {
    // The sender is woken when a slot frees up while callbacks may wait for one: every slot
    // was busy, or callbacks wait in the hand-off or the store.
    let settled = || {
        let was = busy.fetch_sub(1, Ordering::AcqRel);
        if was >= MAX_IN_FLIGHT || service.handoff.is_waiting() {
            service.callbacks_due.notify_one();
        }
    };
    let mut rest = batch.into_iter();
    let Some(first) = rest.next() else {
        return;
    };
    let mut going: FuturesUnordered<Delivery<'_>> = FuturesUnordered::new();
    let mut lead: Delivery<'_> = Box::pin(deliver(&service, &recorder, first));
    match tokio::time::timeout(LEAD, &mut lead).await {
        Ok(Some(refused)) => {
            settled();
            let unsent: Vec<Prepared> = rest.collect();
            if !unsent.is_empty() {
                tracing::info!(
                    callbacks = unsent.len(),
                    error = %refused,
                    "status callbacks not sent: their receiver refused the connection just made"
                );
            }
            for prepared in unsent {
                settle_unsent(&service, &recorder, prepared, &refused).await;
                settled();
            }
            return;
        }
        Ok(None) => settled(),
        Err(_) => going.push(lead),
    }
    for (callback, url) in rest {
        let (service, recorder) = (&service, &recorder);
        going.push(Box::pin(async move {
            deliver(service, recorder, (callback, url)).await
        }));
    }
    while going.next().await.is_some() {
        settled();
    }
}
