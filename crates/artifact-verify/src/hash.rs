//! Streaming digests: every artifact is read once, in fixed-size buffers
//! (memory does not grow with the file), and the digests are reused by every
//! check that needs them. Files are hashed in parallel, one per core; a file
//! hashed alone has its reads overlapped with its hashing on a second thread.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::mpsc;

use sha2::{Digest as _, Sha256, Sha512};

/// Read buffer size: large enough to amortise system calls, small enough to
/// stay in cache between the read and the hash.
pub const BUFFER: usize = 256 * 1024;

/// The digests of one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256.
    pub sha256: [u8; 32],
    /// SHA-512, computed in the same pass when a signature needs it.
    pub sha512: Option<[u8; 64]>,
    /// Bytes read.
    pub size: u64,
}

impl Digests {
    /// SHA-256 as lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

/// Incremental hashing with the same shape for files and S3 streams.
pub struct Hasher {
    sha256: Sha256,
    sha512: Option<Sha512>,
    size: u64,
}

impl Hasher {
    /// A hasher; `sha512` adds SHA-512 (for SSH signatures made with it).
    pub fn new(sha512: bool) -> Self {
        Self { sha256: Sha256::new(), sha512: sha512.then(Sha512::new), size: 0 }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        if let Some(h) = &mut self.sha512 {
            h.update(bytes);
        }
        self.size += bytes.len() as u64;
    }

    /// The digests.
    pub fn finish(self) -> Digests {
        Digests { sha256: self.sha256.finalize().into(), sha512: self.sha512.map(|h| h.finalize().into()), size: self.size }
    }
}

/// One file to hash.
#[derive(Debug, Clone)]
pub struct Job {
    /// Path on disk.
    pub path: PathBuf,
    /// Whether SHA-512 is needed too.
    pub sha512: bool,
}

/// Hashes every job with up to `threads` workers; results in job order.
pub fn hash_files(jobs: &[Job], threads: usize) -> Vec<io::Result<Digests>> {
    let workers = threads.max(1).min(jobs.len().max(1));
    if workers <= 1 {
        // One file at a time: overlap its reads with hashing when a second core exists.
        let pipelined = threads >= 2;
        return jobs.iter().map(|j| if pipelined { hash_pipelined(j) } else { hash_simple(j) }).collect();
    }
    let next = Mutex::new(0usize);
    let results: Vec<Mutex<Option<io::Result<Digests>>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(job) = jobs.get(i) else { break };
                    let r = hash_simple(job);
                    *results[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .unwrap_or_else(|| Err(io::Error::other("the hashing worker stopped")))
        })
        .collect()
}

/// Read and hash on one thread.
pub fn hash_simple(job: &Job) -> io::Result<Digests> {
    let mut file = File::open(&job.path)?;
    let mut hasher = Hasher::new(job.sha512);
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

/// Reads on a second thread into a fixed ring of buffers while this thread
/// hashes: a lone large file is hashed at the speed of the hash, not of
/// hash plus copy.
pub fn hash_pipelined(job: &Job) -> io::Result<Digests> {
    const RING: usize = 4;
    let mut file = File::open(&job.path)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(RING);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Vec<u8>>(RING);
    for _ in 0..RING {
        let _ = empty_tx.send(vec![0u8; BUFFER]);
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> io::Result<()> {
            while let Ok(mut buf) = empty_rx.recv() {
                let n = loop {
                    match file.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other?,
                    }
                };
                if n == 0 || full_tx.send((buf, n)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut hasher = Hasher::new(job.sha512);
        while let Ok((buf, n)) = full_rx.recv() {
            hasher.update(&buf[..n]);
            let _ = empty_tx.send(buf);
        }
        drop(empty_tx);
        reader.join().map_err(|_| io::Error::other("the reader thread panicked"))??;
        Ok(hasher.finish())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn all_three_ways_agree_with_known_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut jobs = Vec::new();
        for (i, len) in [0usize, 1, BUFFER - 1, BUFFER, BUFFER * 3 + 17].into_iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            let data: Vec<u8> = (0..len).map(|x| (x * 31 % 251) as u8).collect();
            std::fs::write(&path, &data).expect("write");
            jobs.push((Job { path, sha512: i % 2 == 0 }, Sha256::digest(&data), Sha512::digest(&data), len as u64));
        }
        let plain: Vec<Job> = jobs.iter().map(|j| j.0.clone()).collect();
        for threads in [1, 2, 4] {
            for (r, (job, s256, s512, len)) in hash_files(&plain, threads).into_iter().zip(&jobs) {
                let d = r.expect("hash");
                assert_eq!(d.sha256.as_slice(), s256.as_slice(), "{threads} threads");
                assert_eq!(d.size, *len);
                assert_eq!(d.sha512.map(|x| x.to_vec()), job.sha512.then(|| s512.to_vec()));
            }
            let one = hash_files(&plain[4..], threads).remove(0).expect("one");
            assert_eq!(one.sha256.as_slice(), jobs[4].1.as_slice());
        }
        // The empty file's SHA-256 is the well-known one.
        assert_eq!(hash_simple(&plain[0]).expect("empty").sha256_hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            hash_files(&[Job { path: dir.path().join("missing"), sha512: false }], 2)[0].as_ref().map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::NotFound)
        );
    }
}
