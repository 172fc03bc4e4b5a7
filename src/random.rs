//! Randomness from the operating system's CSPRNG (`getrandom(2)` on
//! Linux): one syscall, no generator of our own to seed or initialise.

/// `N` random bytes.
pub fn bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)?;
    Ok(b)
}
