//! The IPv4 rules of an authorization policy (`allowedIps`): addresses, ranges and masks.

use std::net::IpAddr;

/// An IPv4 rule of an authorization policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IpRule {
    Addr(std::net::Ipv4Addr),
    Range(std::net::Ipv4Addr, std::net::Ipv4Addr),
    Mask(std::net::Ipv4Addr, u8),
}

impl IpRule {
    pub(crate) fn matches(&self, ip: IpAddr) -> bool {
        let IpAddr::V4(ip) = ip else { return false };
        match self {
            IpRule::Addr(a) => *a == ip,
            IpRule::Range(a, b) => (u32::from(*a)..=u32::from(*b)).contains(&u32::from(ip)),
            IpRule::Mask(a, bits) => {
                let mask = if *bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from((*bits).min(32)))
                };
                u32::from(*a) & mask == u32::from(ip) & mask
            }
        }
    }
}

/// Parses IP rules; `Err(reason)` on a malformed entry or more than 10 of a kind.
pub(crate) fn parse_ip_rules(
    addrs: &[String],
    ranges: &[String],
    masks: &[String],
) -> Result<Vec<IpRule>, String> {
    if addrs.len() > 10 || ranges.len() > 10 || masks.len() > 10 {
        return Err("At most 10 entries of each kind of allowed IPs.".into());
    }
    let ip = |s: &str| {
        s.trim()
            .parse::<std::net::Ipv4Addr>()
            .map_err(|_| format!("Invalid IPv4 address '{s}'."))
    };
    let mut out = Vec::new();
    for a in addrs {
        out.push(IpRule::Addr(ip(a)?));
    }
    for r in ranges {
        let (a, b) = r
            .split_once('-')
            .ok_or_else(|| format!("Invalid IPv4 range '{r}'."))?;
        out.push(IpRule::Range(ip(a)?, ip(b)?));
    }
    for m in masks {
        let (a, bits) = m
            .split_once('/')
            .ok_or_else(|| format!("Invalid IPv4 mask '{m}'."))?;
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= 32)
            .ok_or_else(|| format!("Invalid IPv4 mask '{m}'."))?;
        out.push(IpRule::Mask(ip(a)?, bits));
    }
    Ok(out)
}
