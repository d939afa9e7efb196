//! Identifiers for tests, computed here independently of the simulator: random valid NIPs and
//! PESELs, and the CRC-8 check of KSeF numbers.

/// A random valid NIP (checksum weights 6,5,7,2,3,4,5,6,7; check digit != 10).
pub fn random_nip() -> String {
    loop {
        let mut d = [0u32; 10];
        let r: [u8; 9] = rand::random();
        for i in 0..9 {
            d[i] = u32::from(r[i] % 10);
        }
        if d[0] == 0 || (d[1] == 0 && d[2] == 0) {
            continue;
        }
        let w = [6, 5, 7, 2, 3, 4, 5, 6, 7];
        let c = (0..9).map(|i| d[i] * w[i]).sum::<u32>() % 11;
        if c == 10 {
            continue;
        }
        d[9] = c;
        return d.iter().map(|x| char::from(b'0' + *x as u8)).collect();
    }
}

/// A random valid PESEL (born 198x, months 01..09).
pub fn random_pesel() -> String {
    let mut r = [0u8; 8];
    rand::fill(&mut r);
    let mut d: Vec<u32> = vec![8, u32::from(r[0]) % 10, 0, 1 + u32::from(r[1]) % 9];
    for b in &r[2..8] {
        d.push(u32::from(*b) % 10);
    }
    let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let s: u32 = d.iter().zip(w).map(|(a, b)| a * b).sum();
    d.push((10 - s % 10) % 10);
    d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
}

/// CRC-8 (poly 0x07, init 0, no reflection, no final XOR).
pub fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in data {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x07
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Whether `k` is a 35-character KSeF number whose last two characters are the CRC-8 of the rest.
pub fn ksef_number_ok(k: &str) -> bool {
    k.len() == 35 && format!("{:02X}", crc8(&k.as_bytes()[..32])) == k[33..]
}

/// The InternalId `NIP-nnnnC` of unit `unit` (four digits) of `nip`, with its check digit `C`:
/// weights 1 and 3 alternating over the 14 digits before it, the sum modulo 10.
pub fn internal_id(nip: &str, unit: u32) -> String {
    let body = format!("{nip}{unit:04}");
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, c)| u32::from(c - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{nip}-{unit:04}{}", sum % 10)
}
