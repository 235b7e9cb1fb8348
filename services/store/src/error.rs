//! etcd's v2 error codes (`v2error/error.go`): code, message, HTTP status.

use serde::{Deserialize, Serialize};

/// Every errorCode the etcd v2 API defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u32)]
pub enum ErrorCode {
    KeyNotFound = 100,
    TestFailed = 101,
    NotFile = 102,
    NoMorePeer = 103,
    NotDir = 104,
    NodeExist = 105,
    KeyIsPreserved = 106,
    RootReadOnly = 107,
    DirNotEmpty = 108,
    ExistingPeerAddr = 109,
    Unauthorized = 110,
    ValueRequired = 200,
    PrevValueRequired = 201,
    TtlNaN = 202,
    IndexNaN = 203,
    ValueOrTtlRequired = 204,
    TimeoutNaN = 205,
    NameRequired = 206,
    IndexOrValueRequired = 207,
    IndexValueMutex = 208,
    InvalidField = 209,
    InvalidForm = 210,
    RefreshValue = 211,
    RefreshTtlRequired = 212,
    RaftInternal = 300,
    LeaderElect = 301,
    WatcherCleared = 400,
    EventIndexCleared = 401,
    StandbyInternal = 402,
    InvalidActiveSize = 403,
    InvalidRemoveDelay = 404,
    ClientInternal = 500,
}

impl ErrorCode {
    /// Every code, for [`ErrorCode::from_code`].
    pub const ALL: [ErrorCode; 32] = {
        use ErrorCode::*;
        [
            KeyNotFound,
            TestFailed,
            NotFile,
            NoMorePeer,
            NotDir,
            NodeExist,
            KeyIsPreserved,
            RootReadOnly,
            DirNotEmpty,
            ExistingPeerAddr,
            Unauthorized,
            ValueRequired,
            PrevValueRequired,
            TtlNaN,
            IndexNaN,
            ValueOrTtlRequired,
            TimeoutNaN,
            NameRequired,
            IndexOrValueRequired,
            IndexValueMutex,
            InvalidField,
            InvalidForm,
            RefreshValue,
            RefreshTtlRequired,
            RaftInternal,
            LeaderElect,
            WatcherCleared,
            EventIndexCleared,
            StandbyInternal,
            InvalidActiveSize,
            InvalidRemoveDelay,
            ClientInternal,
        ]
    };

    pub fn code(self) -> u32 {
        self as u32
    }

    /// The code with etcd's number `code` (as it travels in protobuf).
    pub fn from_code(code: u32) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The fixed message etcd sends for this code.
    pub fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            KeyNotFound => "Key not found",
            TestFailed => "Compare failed",
            NotFile => "Not a file",
            NoMorePeer => "Reached the max number of peers in the cluster",
            NotDir => "Not a directory",
            NodeExist => "Key already exists",
            KeyIsPreserved => "The prefix of given key is a keyword in etcd",
            RootReadOnly => "Root is read only",
            DirNotEmpty => "Directory not empty",
            ExistingPeerAddr => "Peer address has existed",
            Unauthorized => "The request requires user authentication",
            ValueRequired => "Value is Required in POST form",
            PrevValueRequired => "PrevValue is Required in POST form",
            TtlNaN => "The given TTL in POST form is not a number",
            IndexNaN => "The given index in POST form is not a number",
            ValueOrTtlRequired => "Value or TTL is required in POST form",
            TimeoutNaN => "The given timeout in POST form is not a number",
            NameRequired => "Name is required in POST form",
            IndexOrValueRequired => "Index or value is required",
            IndexValueMutex => "Index and value cannot both be specified",
            InvalidField => "Invalid field",
            InvalidForm => "Invalid POST form",
            RefreshValue => "Value provided on refresh",
            RefreshTtlRequired => "A TTL must be provided on refresh",
            RaftInternal => "Raft Internal Error",
            LeaderElect => "During Leader Election",
            WatcherCleared => "watcher is cleared due to etcd recovery",
            EventIndexCleared => "The event in requested index is outdated and cleared",
            StandbyInternal => "Standby Internal Error",
            InvalidActiveSize => "Invalid active size",
            InvalidRemoveDelay => "Standby remove delay",
            ClientInternal => "Client Internal Error",
        }
    }

    /// The HTTP status etcd answers with (`errorStatus`); 400 unless listed.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            KeyNotFound => 404,
            NotFile | DirNotEmpty => 403,
            TestFailed | NodeExist => 412,
            Unauthorized => 401,
            RaftInternal | LeaderElect => 500,
            _ => 400,
        }
    }
}

/// A v2 error as etcd reports it: code, cause and the store index at the time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{}: {} ({}) [{}]", .code.code(), .code.message(), .cause, .index)]
pub struct Error {
    pub code: ErrorCode,
    pub cause: String,
    pub index: u64,
}

impl Error {
    pub fn new(code: ErrorCode, cause: impl Into<String>, index: u64) -> Self {
        Error {
            code,
            cause: cause.into(),
            index,
        }
    }
}

#[cfg(test)]
mod code_tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_back() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
        }
        assert_eq!(ErrorCode::from_code(999), None);
    }
}
