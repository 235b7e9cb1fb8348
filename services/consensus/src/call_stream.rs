//! The peer side of `concord-rpc`'s call stream: raft appends, votes and
//! forwarded requests to one peer travel on one long-lived `Calls` stream
//! (peer.proto), each as one HTTP/2 DATA frame answered by id, instead of
//! one HTTP/2 stream per unary call. The stream's life (opened on first
//! use, failed calls when it breaks, ended by a call that gives up) is
//! `concord_rpc::call_stream`'s.

use concord_rpc::call_stream::Exchange;
pub use concord_rpc::call_stream::NOT_SENT;
use concord_rpc::peer::peer_client::PeerClient;
use concord_rpc::peer::{Answer, Call, Envelope, Method};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;
use tonic::{Code, Status, Streaming};

/// peer.proto's `Calls`.
pub struct PeerCalls;

impl Exchange for PeerCalls {
    type Client = PeerClient<Channel>;
    type Call = Call;
    type Answer = Answer;

    async fn open(
        mut client: PeerClient<Channel>,
        calls: UnboundedReceiverStream<Call>,
    ) -> Result<Streaming<Answer>, Status> {
        Ok(client.calls(calls).await?.into_inner())
    }

    fn answer_id(answer: &Answer) -> u64 {
        answer.id
    }
}

fn into_result(a: Answer) -> Result<Envelope, Status> {
    if a.code == 0 {
        Ok(a.envelope.unwrap_or_default())
    } else {
        Err(Status::new(Code::from_i32(a.code), a.message))
    }
}

/// The stream of calls to one peer (shared by the clones of a connection).
#[derive(Default)]
pub struct CallStream(concord_rpc::call_stream::CallStream<PeerCalls>);

impl CallStream {
    /// Sends one call and waits for its answer.
    pub async fn call(
        &self,
        client: &PeerClient<Channel>,
        method: Method,
        envelope: Envelope,
    ) -> Result<Envelope, Status> {
        let answer = self
            .0
            .call(client, |id| Call {
                id,
                method: method as i32,
                envelope: Some(envelope),
            })
            .await?;
        into_result(answer)
    }
}
