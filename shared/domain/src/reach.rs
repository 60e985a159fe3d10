//! Where an address reaches: the public internet, this machine, or somewhere private. A
//! tenant's webhook URL may only lead to the first (the second in the local stack), however
//! it is spelled: an IP literal, an IPv4-mapped IPv6 address, a name that resolves inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where one address leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A globally routable address.
    Public,
    /// This machine (127.0.0.0/8, ::1): allowed only in the local stack.
    Loopback,
    /// Anything else that is not global: private, link-local (the cloud metadata service),
    /// shared (CGNAT), unique-local, multicast, unspecified, reserved, documentation, and
    /// IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64).
    Private,
}

impl Reach {
    pub fn of(ip: IpAddr) -> Reach {
        match ip {
            IpAddr::V4(ip) => reach_v4(ip),
            IpAddr::V6(ip) => reach_v6(ip),
        }
    }
}

/// `(network, prefix length)` pairs of IPv4 space that is not global (RFC 6890 and later).
const NOT_GLOBAL_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network", unspecified
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
    ([169, 254, 0, 0], 16),  // link-local, the instance metadata service among it
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, broadcast
];

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn reach_v4(ip: Ipv4Addr) -> Reach {
    if ip.is_loopback() {
        Reach::Loopback
    } else if NOT_GLOBAL_V4.iter().any(|(network, prefix)| in_v4(ip, *network, *prefix)) {
        Reach::Private
    } else {
        Reach::Public
    }
}

/// `(network, prefix length)` pairs of IPv6 space that is not global, or that carries an
/// IPv4 address a gateway would reach for us.
const NOT_GLOBAL_V6: &[(u128, u8)] = &[
    (0, 96),                                         // unspecified, IPv4-compatible (deprecated)
    (0xffff_0000_0000, 96),                          // IPv4-mapped
    (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96), // NAT64 (well-known prefix)
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // NAT64 (local use)
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // discard-only
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16), // 6to4: an IPv4 address inside
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // unique-local (AWS's fd00:ec2::254 among it)
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // link-local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // site-local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // multicast
];

fn reach_v6(ip: Ipv6Addr) -> Reach {
    if ip.is_loopback() {
        return Reach::Loopback;
    }
    let bits = u128::from(ip);
    let inside = |(network, prefix): &(u128, u8)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
        bits & mask == network & mask
    };
    if NOT_GLOBAL_V6.iter().any(inside) { Reach::Private } else { Reach::Public }
}

/// Whether a host name means this machine whatever any resolver says: `localhost` and its
/// subdomains (RFC 6761), with or without the root's trailing dot.
pub fn is_loopback_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(text: &str) -> Reach {
        Reach::of(text.parse().expect("an address"))
    }

    #[test]
    fn only_global_addresses_are_public() {
        for private in [
            "169.254.169.254",
            "0.0.0.0",
            "10.0.0.1",
            "192.168.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "::",
            "fd00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "2002:a00:1::",
            "2001:db8::1",
        ] {
            assert_eq!(reach(private), Reach::Private, "{private}");
        }
        for loopback in ["127.0.0.1", "127.1.2.3", "::1"] {
            assert_eq!(reach(loopback), Reach::Loopback, "{loopback}");
        }
        for public in ["1.1.1.1", "172.32.0.1", "100.128.0.1", "8.8.8.8", "2606:4700:4700::1111", "192.0.3.1"] {
            assert_eq!(reach(public), Reach::Public, "{public}");
        }
    }

    #[test]
    fn localhost_is_loopback_however_spelled() {
        for name in ["localhost", "LOCALHOST", "localhost.", "a.localhost", "x.y.localhost."] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in ["localhost.example", "notlocalhost", "crm.example"] {
            assert!(!is_loopback_name(name), "{name}");
        }
    }
}
