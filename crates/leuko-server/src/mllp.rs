//! HL7 v2 results over MLLP: `leuko mllp --listen ADDR` (or `leuko serve --mllp ADDR`).
//!
//! Each connection is read in chunks through an [`MllpDecoder`], so frames split across reads
//! and several frames in one read are handled. Each ORU^R01 is parsed, read into observations
//! (local codes through the caller's table), and stored in the patient's history in one
//! transaction, idempotently by `{MSH-10}-{OBX-1}`; only then is AA answered. A corrected
//! result (OBX-11 `C`) supersedes, in that same transaction, the stored result of the same
//! patient, analyte and time, whichever earlier message brought it; the superseded result
//! stays stored but leaves the history the engine reads. Likewise a final result (OBX-11 `F`)
//! supersedes a stored preliminary one (`P`) of the same patient, analyte and time, and a
//! preliminary result arriving after the final is stored already superseded. A message that
//! cannot be read is answered AE (with an ERR segment naming the field) or AR (when even its
//! MSH cannot be read); a store failure is answered AE, so the sender retries and nothing
//! acknowledged is lost. A malformed message or a broken connection never stops the listener.

use leuko_hl7::{AckCode, LocalCodes, MllpDecoder, ack, ack_for_unparseable, frame};
use leuko_store::{Entry, NewEntry, NewPatient, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::AppState;

/// Accepts connections until the task is dropped.
pub async fn run(listener: TcpListener, state: AppState, codes: LocalCodes) {
    let codes = std::sync::Arc::new(codes);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let (state, codes) = (state.clone(), codes.clone());
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, &state, &codes).await {
                        tracing::warn!(%peer, error = %e, "mllp connection ended with an error");
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "mllp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    state: &AppState,
    codes: &LocalCodes,
) -> std::io::Result<()> {
    let mut decoder = MllpDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        for item in decoder.push(buf.get(..n).unwrap_or_default()) {
            let reply = match item {
                Ok(message) => handle(state, codes, &message).await,
                Err(e) => {
                    tracing::warn!(error = %e, "mllp framing error");
                    continue;
                }
            };
            stream.write_all(&frame(reply)).await?;
        }
    }
}

/// Handles one message and returns the ACK to send.
pub async fn handle(state: &AppState, codes: &LocalCodes, bytes: &[u8]) -> String {
    let message = match leuko_hl7::parse(bytes) {
        Ok(m) => m,
        Err(e) => {
            tracing::info!(error = %e.location, "hl7 message rejected");
            return ack_for_unparseable(bytes);
        }
    };
    let result = match leuko_hl7::oru_to_record(&state.kb, &message, codes) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(location = %e.location, "hl7 message not readable");
            return ack(&message, AckCode::AE, Some(&e));
        }
    };
    let Some(patient_id) = result.patient_id.clone().filter(|p| !p.trim().is_empty()) else {
        let e = leuko_hl7::Hl7Error {
            location: leuko_hl7::Location::new("PID", 1, 3, Some(1)),
            value: String::new(),
            message: "the patient identifier (PID-3) is needed to store results".to_owned(),
            kind: leuko_hl7::ErrorKind::RequiredFieldMissing,
        };
        return ack(&message, AckCode::AE, Some(&e));
    };
    let entries: Vec<NewEntry> = result
        .observations
        .iter()
        .map(|o| NewEntry {
            id: Some(o.id.clone()),
            entry: Entry::Observation(o.observation.clone()),
            corrects: o.status == leuko_hl7::ResultStatus::Corrected,
            preliminary: o.status == leuko_hl7::ResultStatus::Preliminary,
        })
        .collect();
    let n = entries.len();
    let store = state.store.clone();
    let patient = result.patient.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
        let now = time::OffsetDateTime::now_utc();
        match store.create_patient(
            NewPatient {
                id: Some(patient_id.clone()),
                birth_date: patient.birth_date,
                sex: patient.sex,
            },
            now,
        ) {
            // The patient exists with other demographics: the history keeps the first, and
            // the results are still stored.
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        let written = store.write_entries(&patient_id, &entries, now)?;
        Ok(written.iter().filter(|(_, created)| *created).count())
    })
    .await;
    match stored {
        Ok(Ok(created)) => {
            tracing::info!(control_id = %result.control_id, results = n, created, "hl7 results stored");
            ack(&message, AckCode::AA, None)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "hl7 results not stored");
            let err = leuko_hl7::Hl7Error {
                location: leuko_hl7::Location::new("MSH", 1, 10, None),
                value: String::new(),
                message: "the results could not be stored; send the message again".to_owned(),
                kind: leuko_hl7::ErrorKind::ApplicationInternalError,
            };
            ack(&message, AckCode::AE, Some(&err))
        }
        Err(e) => {
            tracing::error!(error = %e, "hl7 store task failed");
            ack_for_unparseable(bytes)
        }
    }
}

/// Binds and runs the listener.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(state: AppState, addr: &str, codes: LocalCodes) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "mllp listening");
    run(listener, state, codes).await;
    Ok(())
}
