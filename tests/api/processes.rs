//! Real processes: crashes (SIGKILL), SIGTERM, two servers on one file (issue 3).
