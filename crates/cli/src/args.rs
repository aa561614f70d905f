//! Argument parsers shared by the commands: sizes, sector sizes, engine backends.

use ebsim_io::{Backend, SectorSize};

/// One KiB.
pub(crate) const KIB: u64 = 1 << 10;
/// One MiB.
pub(crate) const MIB: u64 = 1 << 20;

/// Parses a size in bytes with an optional binary suffix (K/KiB, M/MiB, G/GiB, T/TiB).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?}: expected e.g. 4096, 64MiB, 8TiB"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => KIB,
        "m" | "mib" => MIB,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size {s:?}: use a suffix KiB, MiB, GiB or TiB"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} is too large"))
}

/// Parses a volume size: as [`parse_size`], and not zero.
pub(crate) fn parse_volume_size(s: &str) -> Result<u64, String> {
    match parse_size(s)? {
        0 => Err("a volume cannot be empty: give a size of at least one sector".to_owned()),
        n => Ok(n),
    }
}

/// Parses a listen address: `IP:PORT`, or `HOST:PORT` with a host name such as `localhost`
/// (its first loopback address when it has one, else its first address). Port 0 picks a
/// free port when the server binds.
pub(crate) fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let bad = || {
        format!(
            "invalid address {s:?}: expected IP:PORT or HOST:PORT, e.g. 127.0.0.1:0 or localhost:0"
        )
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.len() > 253 {
        return Err(bad());
    }
    let addrs: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.ip().is_loopback() && a.is_ipv4())
        .or_else(|| addrs.iter().find(|a| a.ip().is_loopback()))
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("{host:?} has no address"))
}

/// Parses a sector size: 512 or 4096.
pub(crate) fn parse_sector_size(s: &str) -> Result<SectorSize, String> {
    match s.trim().parse::<u64>() {
        Ok(512) => Ok(SectorSize::S512),
        Ok(4096) => Ok(SectorSize::S4096),
        _ => Err(format!(
            "unsupported sector size {}: use 512 or 4096",
            s.trim()
        )),
    }
}

/// Parses an engine backend name (vaes512, vaes256, aesni, aes-crate; `soft` is an old name
/// of aes-crate), in any case.
pub(crate) fn parse_backend(s: &str) -> Result<Backend, String> {
    Backend::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Backend::ALL.iter().map(|b| b.name()).collect();
        format!("unknown backend {s:?}: use one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("8 TiB"), Ok(8 << 40));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999TiB").is_err());
    }

    #[test]
    fn volume_sizes_are_not_zero_and_listen_addresses_take_host_names() {
        assert!(parse_volume_size("0").is_err());
        assert!(parse_volume_size("0MiB").is_err());
        assert_eq!(parse_volume_size("1MiB"), Ok(1 << 20));
        let a = parse_listen("localhost:0").unwrap_or_else(|e| panic!("{e}"));
        assert!(a.ip().is_loopback() && a.port() == 0, "{a}");
        assert_eq!(
            parse_listen("127.0.0.1:4599").map(|a| a.to_string()),
            Ok("127.0.0.1:4599".to_owned())
        );
        assert_eq!(parse_listen("[::1]:0").map(|a| a.port()), Ok(0));
        assert!(parse_listen("localhost").is_err());
        assert!(parse_listen("localhost:99999").is_err());
    }

    #[test]
    fn sector_sizes_are_512_or_4096() {
        assert_eq!(parse_sector_size("512"), Ok(SectorSize::S512));
        assert_eq!(parse_sector_size(" 4096 "), Ok(SectorSize::S4096));
        assert!(parse_sector_size("1024").is_err());
        assert!(parse_sector_size("4k").is_err());
    }

    #[test]
    fn backends_parse_by_name_in_any_case() {
        for b in Backend::ALL {
            assert_eq!(parse_backend(&b.name().to_ascii_uppercase()), Ok(b));
        }
        assert_eq!(parse_backend("soft"), Ok(Backend::AesCrate));
        let e = parse_backend("quantum").unwrap_err();
        assert!(e.contains("aes-crate"), "{e}");
    }
}
