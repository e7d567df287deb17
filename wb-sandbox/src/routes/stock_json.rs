//! Hand-rolled serialisation of the stocks report. A 100k-row answer is the sandbox's
//! hottest path, and serde_json is slow in unoptimised (test and dev) builds, where the
//! Stock Tracker's sync benchmark may run; this writer produces byte-identical output.

use crate::catalog::StockRow;

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    let clean = s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if clean {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(&serde_json::to_vec(s).expect("strings serialise"));
    }
}

/// `{"data":{"items":[...]}}` exactly as `serde_json::to_vec` would write it.
pub(crate) fn inventory_response(rows: &[StockRow]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + rows.len() * 200);
    out.extend_from_slice(br#"{"data":{"items":["#);
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"nmId":"#);
        push_i64(&mut out, r.nm_id);
        out.extend_from_slice(br#","chrtId":"#);
        push_i64(&mut out, r.chrt_id);
        out.extend_from_slice(br#","warehouseId":"#);
        push_i64(&mut out, r.warehouse_id);
        out.extend_from_slice(br#","warehouseName":"#);
        push_str(&mut out, r.warehouse_name);
        out.extend_from_slice(br#","regionName":"#);
        push_str(&mut out, r.region_name);
        out.extend_from_slice(br#","quantity":"#);
        push_u64(&mut out, u64::from(r.quantity));
        out.extend_from_slice(br#","inWayToClient":"#);
        push_u64(&mut out, u64::from(r.in_way_to_client));
        out.extend_from_slice(br#","inWayFromClient":"#);
        push_u64(&mut out, u64::from(r.in_way_from_client));
        out.push(b'}');
    }
    out.extend_from_slice(b"]}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SandboxConfig;
    use crate::catalog::wb_warehouse_stock;

    #[test]
    fn identical_to_serde() {
        let mut rows = wb_warehouse_stock(1, &SandboxConfig::default(), 3);
        rows[0].warehouse_name = "Склад \"WB\"\n";
        rows[1].nm_id = 0;
        #[derive(serde::Serialize)]
        struct Items<'a> {
            items: &'a [StockRow],
        }
        #[derive(serde::Serialize)]
        struct Response<'a> {
            data: Items<'a>,
        }
        let expected = serde_json::to_vec(&Response {
            data: Items { items: &rows },
        })
        .unwrap();
        assert!(inventory_response(&rows) == expected, "outputs differ");
        assert_eq!(inventory_response(&[]), br#"{"data":{"items":[]}}"#);
    }
}
