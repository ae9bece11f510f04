//! Packet sources behind one [`PacketSource`] trait: classic pcap files through a pure-Rust
//! reader with block reads into a cache-sized buffer (pcap-parser), other capture files
//! (pcapng, ...) and
//! live interfaces through libpcap, and several files merged in timestamp order.
//!
//! Timestamps are read with nanosecond precision and are the only clock the rest of the
//! sensor uses.

use anyhow::{Context as _, Result};
use pcap::{Active, Capture, Offline, Precision};
use pcap_parser::traits::PcapReaderIterator as _;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use std::path::{Path, PathBuf};

/// One captured packet, borrowed from the source until the next call.
#[derive(Debug, Clone, Copy)]
pub struct PacketRef<'a> {
    /// Packet time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// libpcap link-layer type.
    pub linktype: i32,
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when the snap length cut it).
    pub wire_len: u32,
}

/// What a read produced.
pub enum Next<'a> {
    Packet(PacketRef<'a>),
    /// Nothing arrived within the read timeout (live capture only); check for shutdown.
    Idle,
    /// The source is exhausted.
    End,
}

/// Kernel/interface drop counters of a live capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureDrops {
    pub received: u64,
    /// Dropped by the kernel because the buffer was full.
    pub kernel_dropped: u64,
    /// Dropped by the interface or its driver.
    pub interface_dropped: u64,
}

pub trait PacketSource {
    fn next_packet(&mut self) -> Result<Next<'_>>;
    /// Drop counters from the kernel, where the source has them.
    fn drops(&mut self) -> Option<CaptureDrops> {
        None
    }
    /// Bytes of input consumed so far and in all, for progress (files only).
    fn progress(&self) -> Option<(u64, u64)> {
        None
    }
}

fn ts_ns(h: &pcap::PacketHeader) -> u64 {
    // With Precision::Nano the `tv_usec` field holds nanoseconds.
    let sec = u64::try_from(h.ts.tv_sec).unwrap_or(0);
    let frac = u64::try_from(h.ts.tv_usec).unwrap_or(0);
    sec.saturating_mul(1_000_000_000).saturating_add(frac)
}

/// One capture file.
pub struct FileSource {
    cap: Capture<Offline>,
    linktype: i32,
    consumed: u64,
    total: u64,
    path: PathBuf,
}

impl FileSource {
    pub fn open(path: &Path) -> Result<FileSource> {
        let cap = Capture::from_file_with_precision(path, Precision::Nano)
            .with_context(|| format!("opening capture file {}", path.display()))?;
        let linktype = cap.get_datalink().0;
        let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(FileSource {
            cap,
            linktype,
            consumed: 24,
            total,
            path: path.to_path_buf(),
        })
    }
}

impl PacketSource for FileSource {
    fn next_packet(&mut self) -> Result<Next<'_>> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.consumed += 16 + u64::from(p.header.caplen);
                Ok(Next::Packet(PacketRef {
                    ts_ns: ts_ns(p.header),
                    linktype: self.linktype,
                    data: p.data,
                    wire_len: p.header.len,
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(e) => {
                Err(anyhow::Error::new(e).context(format!("reading {}", self.path.display())))
            }
        }
    }
    fn progress(&self) -> Option<(u64, u64)> {
        Some((self.consumed.min(self.total), self.total))
    }
}

/// Several capture files merged by timestamp (a stable merge: ties go to the earlier file).
pub struct MergedFiles {
    files: Vec<Box<dyn PacketSource>>,
    /// The next packet of each file, copied out, or None when that file is done.
    heads: Vec<Option<Peeked>>,
    current: Vec<u8>,
}

/// A packet copied out of one of the merged files, waiting for its turn.
#[derive(Debug, Clone, Default)]
struct Peeked {
    ts_ns: u64,
    linktype: i32,
    wire_len: u32,
    data: Vec<u8>,
}

impl MergedFiles {
    pub fn open(paths: &[PathBuf]) -> Result<MergedFiles> {
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            files.push(open_file(p)?);
        }
        let mut m = MergedFiles {
            heads: vec![None; files.len()],
            files,
            current: Vec::new(),
        };
        for i in 0..m.files.len() {
            m.refill(i)?;
        }
        Ok(m)
    }

    fn refill(&mut self, i: usize) -> Result<()> {
        let mut data = self.heads[i].take().map(|p| p.data).unwrap_or_default();
        match self.files[i].next_packet()? {
            Next::Packet(p) => {
                data.clear();
                data.extend_from_slice(p.data);
                self.heads[i] = Some(Peeked {
                    ts_ns: p.ts_ns,
                    linktype: p.linktype,
                    wire_len: p.wire_len,
                    data,
                });
            }
            Next::End | Next::Idle => self.heads[i] = None,
        }
        Ok(())
    }
}

impl PacketSource for MergedFiles {
    fn next_packet(&mut self) -> Result<Next<'_>> {
        let best = self
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|p| (p.ts_ns, i)))
            .min();
        let Some((_, i)) = best else {
            return Ok(Next::End);
        };
        let Some(p) = self.heads[i].take() else {
            return Ok(Next::End);
        };
        // Keep the bytes we hand out; give the old buffer back to this file for reuse.
        let old = std::mem::replace(&mut self.current, p.data);
        self.heads[i] = Some(Peeked {
            data: old,
            ..Peeked::default()
        });
        self.refill(i)?;
        Ok(Next::Packet(PacketRef {
            ts_ns: p.ts_ns,
            linktype: p.linktype,
            data: &self.current,
            wire_len: p.wire_len,
        }))
    }
    fn progress(&self) -> Option<(u64, u64)> {
        let (mut c, mut t) = (0, 0);
        for f in &self.files {
            let (a, b) = f.progress()?;
            c += a;
            t += b;
        }
        Some((c, t))
    }
}

/// Options of a live capture (tcpdump-like).
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    pub bpf: Option<String>,
    pub snaplen: i32,
    pub buffer_bytes: i32,
    pub promisc: bool,
    /// How long a read waits before returning [`Next::Idle`].
    pub read_timeout_ms: i32,
}

/// How long a live read waits when no packet is queued.
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// A live interface.
pub struct LiveSource {
    cap: Capture<Active>,
    linktype: i32,
}

impl LiveSource {
    pub fn open(o: &LiveOptions) -> Result<LiveSource> {
        let mut cap = Capture::from_device(o.interface.as_str())
            .with_context(|| format!("no capture device {}", o.interface))?
            .promisc(o.promisc)
            .snaplen(o.snaplen)
            .buffer_size(o.buffer_bytes)
            .timeout(o.read_timeout_ms)
            .immediate_mode(true)
            .precision(Precision::Nano)
            .open()
            .with_context(|| {
                format!(
                    "opening {} for capture (are you root / CAP_NET_RAW?)",
                    o.interface
                )
            })?
            // Non-blocking: a blocking read can wait forever on a quiet link (libpcap restarts
            // its poll after a signal), and then SIGINT, SIGTERM and --duration go unnoticed.
            .setnonblock()
            .with_context(|| format!("setting {} non-blocking", o.interface))?;
        if let Some(f) = &o.bpf {
            cap.filter(f, true)
                .with_context(|| format!("compiling BPF filter {f:?}"))?;
        }
        let linktype = cap.get_datalink().0;
        Ok(LiveSource { cap, linktype })
    }
}

impl PacketSource for LiveSource {
    fn next_packet(&mut self) -> Result<Next<'_>> {
        match self.cap.next_packet() {
            Ok(p) => Ok(Next::Packet(PacketRef {
                ts_ns: ts_ns(p.header),
                linktype: self.linktype,
                data: p.data,
                wire_len: p.header.len,
            })),
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing queued: wait a moment instead of spinning.
                std::thread::sleep(IDLE_WAIT);
                Ok(Next::Idle)
            }
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            Err(e) => Err(anyhow::Error::new(e).context("reading from the capture device")),
        }
    }
    fn drops(&mut self) -> Option<CaptureDrops> {
        let s = self.cap.stats().ok()?;
        Some(CaptureDrops {
            received: u64::from(s.received),
            kernel_dropped: u64::from(s.dropped),
            interface_dropped: u64::from(s.if_dropped),
        })
    }
}

/// Opens a capture file with the fastest reader that understands it.
pub fn open_file(path: &Path) -> Result<Box<dyn PacketSource>> {
    if LegacyFileSource::is_classic_pcap(path)? {
        Ok(Box::new(LegacyFileSource::open(path)?))
    } else {
        Ok(Box::new(FileSource::open(path)?))
    }
}

/// Opens one file directly, several merged.
pub fn open_files(paths: &[PathBuf]) -> Result<Box<dyn PacketSource>> {
    anyhow::ensure!(!paths.is_empty(), "no capture file given");
    if paths.len() == 1 {
        open_file(&paths[0])
    } else {
        Ok(Box::new(MergedFiles::open(paths)?))
    }
}

/// Read buffer of the classic-pcap reader at the start: small enough to stay in the CPU's
/// cache, so the packets the kernel copies into it are still cached when they are parsed
/// (a 4 MiB buffer was evicted before its packets were read).
const LEGACY_BUFFER_BYTES: usize = 64 << 10;
/// The read buffer grows (doubling) up to this for larger records; it is also the largest
/// record accepted.
const LEGACY_MAX_BUFFER_BYTES: usize = 4 << 20;

/// A classic (libpcap-format) capture file read in large blocks, records handed out
/// straight from the read buffer: one copy (the kernel's) per byte.
pub struct LegacyFileSource {
    reader: LegacyPcapReader<std::fs::File>,
    linktype: i32,
    nanos: bool,
    /// Bytes of the record handed out last, consumed on the next call.
    pending: usize,
    /// Size of the reader's buffer.
    buffer_bytes: usize,
    total: u64,
    path: PathBuf,
}

/// What the reader's next block is, decided before borrowing it for the caller.
enum Step {
    /// A packet record of `offset` bytes; its data is the last `data_len` of them.
    Packet {
        offset: usize,
        data_len: usize,
        ts_sec: u32,
        ts_frac: u32,
        wire_len: u32,
    },
    Skip(usize),
    Refill,
    /// The next record does not fit in the read buffer.
    Grow,
    End,
}

impl LegacyFileSource {
    /// Whether the file starts with a classic pcap magic number (either byte order,
    /// micro- or nanosecond timestamps).
    pub fn is_classic_pcap(path: &Path) -> Result<bool> {
        use std::io::Read as _;
        let mut magic = [0u8; 4];
        let mut f = std::fs::File::open(path)
            .with_context(|| format!("opening capture file {}", path.display()))?;
        if f.read_exact(&mut magic).is_err() {
            return Ok(false);
        }
        Ok(matches!(
            u32::from_le_bytes(magic),
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1
        ))
    }

    pub fn open(path: &Path) -> Result<LegacyFileSource> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("opening capture file {}", path.display()))?;
        let total = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = LegacyPcapReader::new(LEGACY_BUFFER_BYTES, file)
            .map_err(|e| anyhow::anyhow!("reading the pcap header of {}: {e:?}", path.display()))?;
        let (offset, linktype, nanos) = match reader.next() {
            Ok((offset, PcapBlockOwned::LegacyHeader(h))) => {
                (offset, h.network.0, h.is_nanosecond_precision())
            }
            _ => anyhow::bail!("{} has no pcap header", path.display()),
        };
        reader.consume(offset);
        Ok(LegacyFileSource {
            reader,
            linktype,
            nanos,
            pending: 0,
            buffer_bytes: LEGACY_BUFFER_BYTES,
            total,
            path: path.to_path_buf(),
        })
    }

    fn step(&mut self) -> Result<Step> {
        match self.reader.next() {
            Ok((offset, PcapBlockOwned::Legacy(b))) => Ok(Step::Packet {
                offset,
                data_len: b.data.len(),
                ts_sec: b.ts_sec,
                ts_frac: b.ts_usec,
                wire_len: b.origlen,
            }),
            Ok((offset, _)) => Ok(Step::Skip(offset)),
            Err(PcapError::Eof) => Ok(Step::End),
            Err(PcapError::Incomplete(_)) => Ok(Step::Refill),
            Err(PcapError::BufferTooSmall) if self.buffer_bytes < LEGACY_MAX_BUFFER_BYTES => {
                Ok(Step::Grow)
            }
            Err(PcapError::UnexpectedEof) => {
                tracing::warn!(path = %self.path.display(), "capture file ends inside a packet record (truncated file)");
                Ok(Step::End)
            }
            Err(e) => anyhow::bail!("reading {}: {e:?}", self.path.display()),
        }
    }
}

impl PacketSource for LegacyFileSource {
    fn next_packet(&mut self) -> Result<Next<'_>> {
        if self.pending > 0 {
            // No shift here: `refill` moves the unread tail once per buffer instead.
            self.reader.consume_noshift(self.pending);
            self.pending = 0;
        }
        let (offset, data_len, ts_sec, ts_frac, wire_len) = loop {
            match self.step()? {
                Step::Packet {
                    offset,
                    data_len,
                    ts_sec,
                    ts_frac,
                    wire_len,
                } => break (offset, data_len, ts_sec, ts_frac, wire_len),
                Step::Skip(offset) => self.reader.consume_noshift(offset),
                Step::Refill => self
                    .reader
                    .refill()
                    .map_err(|e| anyhow::anyhow!("reading {}: {e:?}", self.path.display()))?,
                Step::Grow => {
                    self.buffer_bytes = (self.buffer_bytes * 2).min(LEGACY_MAX_BUFFER_BYTES);
                    self.reader.grow(self.buffer_bytes);
                }
                Step::End => return Ok(Next::End),
            }
        };
        // The record was parsed once, above; its data (the record's last bytes) is borrowed
        // from the reader's buffer by position instead of parsing the record again.
        let data = offset
            .checked_sub(data_len)
            .and_then(|start| self.reader.data().get(start..offset));
        let Some(data) = data else {
            anyhow::bail!(
                "reading {}: record vanished between two reads",
                self.path.display()
            );
        };
        self.pending = offset;
        let frac = u64::from(ts_frac) * if self.nanos { 1 } else { 1_000 };
        Ok(Next::Packet(PacketRef {
            ts_ns: u64::from(ts_sec) * 1_000_000_000 + frac,
            linktype: self.linktype,
            data,
            wire_len,
        }))
    }
    fn progress(&self) -> Option<(u64, u64)> {
        Some((self.reader.consumed() as u64, self.total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (microseconds, Ethernet) holding records of the given lengths, each
    /// filled with its index.
    fn classic_pcap(lens: &[usize]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&(16u32 << 20).to_le_bytes()); // snap length
        f.extend_from_slice(&1u32.to_le_bytes());
        for (i, &len) in lens.iter().enumerate() {
            let len32 = u32::try_from(len).unwrap();
            f.extend_from_slice(&(1_000 + i as u32).to_le_bytes());
            f.extend_from_slice(&7u32.to_le_bytes());
            f.extend_from_slice(&len32.to_le_bytes());
            f.extend_from_slice(&len32.to_le_bytes());
            f.extend(std::iter::repeat_n(i as u8, len));
        }
        f
    }

    #[test]
    fn classic_reader_grows_for_records_larger_than_its_buffer() {
        let lens = [60, LEGACY_BUFFER_BYTES + 1000, 60, 3 << 20, 1500];
        let path = std::env::temp_dir().join(format!("apitap-grow-{}.pcap", std::process::id()));
        std::fs::write(&path, classic_pcap(&lens)).unwrap();
        let mut src = LegacyFileSource::open(&path).unwrap();
        let mut got = Vec::new();
        while let Next::Packet(p) = src.next_packet().unwrap() {
            assert!(p.data.iter().all(|&b| usize::from(b) == got.len()));
            got.push((p.data.len(), p.ts_ns));
        }
        let _ = std::fs::remove_file(&path);
        let want: Vec<(usize, u64)> = lens
            .iter()
            .enumerate()
            .map(|(i, &l)| (l, (1_000 + i as u64) * 1_000_000_000 + 7_000))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn classic_reader_rejects_records_larger_than_its_largest_buffer() {
        let path = std::env::temp_dir().join(format!("apitap-huge-{}.pcap", std::process::id()));
        std::fs::write(&path, classic_pcap(&[60, LEGACY_MAX_BUFFER_BYTES + 10])).unwrap();
        let mut src = LegacyFileSource::open(&path).unwrap();
        assert!(matches!(src.next_packet(), Ok(Next::Packet(_))));
        let err = src.next_packet().err();
        let _ = std::fs::remove_file(&path);
        assert!(err.is_some());
    }
}
