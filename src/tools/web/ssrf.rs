//! The SSRF guard of web_extract: a page the model names must not reach the gateway's own
//! machine, its network or a cloud metadata service.
//!
//! The host is resolved here to give the model a clear refusal, and the same check runs again
//! in the HTTP agent's resolver on the addresses it actually connects to (`allow_address`), so
//! a DNS answer that changes between the two (rebinding) is refused as well.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// Why an address is off limits, or `None` for a public address.
pub fn blocked(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_v4(v4);
            }
            let s = v6.segments();
            if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("a cloud metadata address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if s[0] & 0xfe00 == 0xfc00 {
                Some("a private address")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if a == 0 {
        Some("the unspecified address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (CGNAT) address")
    } else if ip.is_multicast() || a >= 240 {
        Some("a multicast or reserved address")
    } else {
        None
    }
}

/// The filter handed to the HTTP agent.
pub fn allowed(ip: IpAddr) -> bool {
    blocked(ip).is_none()
}

/// Refuses a host that is, or resolves to, an address off limits (any one of its addresses).
pub fn check_host(host: &str, port: u16) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            (bare, port).to_socket_addrs().map_err(|e| format!("cannot resolve {bare}: {e}"))?.map(|a| a.ip()).collect()
        }
    };
    if addrs.is_empty() {
        return Err(format!("cannot resolve {bare}: no address"));
    }
    for ip in addrs {
        if let Some(why) = blocked(ip) {
            return Err(format!(
                "refused to fetch {bare}: it resolves to {ip}, {why} (private networks are off limits; \
                 set web.allow_private_urls: true to allow them)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<&'static str> {
        blocked(s.parse().unwrap())
    }

    #[test]
    fn every_refused_range_is_refused_and_public_addresses_pass() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "metadata"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.255", "CGNAT"),
            ("0.0.0.0", "unspecified"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("fd00:ec2::254", "metadata"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
        ] {
            let got = b(ip).unwrap_or_else(|| panic!("{ip} should be refused"));
            assert!(got.contains(why), "{ip}: {got}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "100.128.0.1", "192.169.0.1", "1.1.1.1", "2606:4700::1111"] {
            assert_eq!(b(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn hosts_are_resolved_before_the_check() {
        let e = check_host("localhost", 80).unwrap_err();
        assert!(e.contains("loopback") && e.contains("web.allow_private_urls"), "{e}");
        assert!(check_host("[::1]", 80).unwrap_err().contains("loopback"));
        assert!(check_host("93.184.215.14", 80).is_ok());
    }
}
