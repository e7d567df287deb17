//! The client's address. Forwarded headers are spoofable, so `X-Forwarded-For` is read only
//! when the peer is a proxy listed in `TRUSTED_PROXIES`, and then from the right, skipping
//! trusted hops: the first untrusted address is the client.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Request};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tower_governor::GovernorError;
use tower_governor::key_extractor::KeyExtractor;

#[derive(Clone, Debug, Default)]
pub struct ClientIpResolver {
    trusted: Arc<[IpNet]>,
}

impl ClientIpResolver {
    pub fn new(trusted: Vec<IpNet>) -> Self {
        Self {
            trusted: trusted.into(),
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.is_trusted(peer) {
            return peer;
        }
        let hops: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        hops.into_iter()
            .rev()
            .find(|ip| !self.is_trusted(*ip))
            .unwrap_or(peer)
    }

    fn of_request(&self, ext: &axum::http::Extensions, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = ext.get::<ConnectInfo<SocketAddr>>()?.0.ip();
        Some(self.resolve(peer, headers))
    }
}

/// What rate limits count a client as: an IPv4 address, or an IPv6 client's /64. A single
/// IPv6 subscriber is routinely given a whole /64 (and often more), so counting per address
/// would let one attacker rotate through 2^64 of them.
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !(u128::MAX >> 64)).into()),
        },
    }
}

impl KeyExtractor for ClientIpResolver {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        self.of_request(req.extensions(), req.headers())
            .map(limit_key)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

/// The resolved client address of this request.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .client_ip
            .of_request(&parts.extensions, &parts.headers)
            .map(ClientIp)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no peer address on the request")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn ignores_forwarded_headers_from_untrusted_peers() {
        let r = ClientIpResolver::new(vec![]);
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(r.resolve(peer, &headers("1.2.3.4")), peer);
    }

    #[test]
    fn takes_the_rightmost_untrusted_hop_behind_a_trusted_proxy() {
        let r = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        // The client forged the first entry; the proxy appended the real address.
        let got = r.resolve(proxy, &headers("6.6.6.6, 198.51.100.7, 10.0.0.3"));
        assert_eq!(got, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(r.resolve(proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            ip("2001:db8:1:2::")
        );
        assert_ne!(limit_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(limit_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }
}
