//! Ranks the causes: relative prior by age band times the likelihood ratios of the findings
//! that are known (present or absent). Unknown findings do not move a cause.

use std::sync::Arc;

use leuko_kb::{Cause, CauseFinding, Knowledge};

use crate::reference::AgeBand;
use crate::{Findings, Truth};

/// One piece of evidence for or against a cause. The words and sources are the knowledge
/// base's own (shared, not copied).
#[derive(Debug, Clone)]
pub struct Evidence {
    cause: Arc<Cause>,
    index: usize,
    /// Present or absent.
    pub truth: Truth,
    /// The likelihood ratio applied.
    pub lr: f64,
}

impl Evidence {
    fn finding(&self) -> Option<&CauseFinding> {
        self.cause.findings.get(self.index)
    }

    /// The finding id.
    pub fn finding_id(&self) -> &str {
        self.finding().map_or("", |f| f.id.as_str())
    }

    /// Why it matters.
    pub fn why(&self) -> &str {
        self.finding().map_or("", |f| f.why.as_str())
    }

    /// Sources of the weight.
    pub fn sources(&self) -> &[String] {
        self.finding().map_or(&[], |f| f.sources.as_slice())
    }
}

/// A ranked cause: the knowledge base's entry (shared) and what this record made of it.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The cause.
    pub cause: Arc<Cause>,
    /// ICD-10-CM codes (with those added by present findings).
    pub icd10: Vec<String>,
    /// Share of the total weight (0 to 1); a ranking aid, not a probability of disease.
    pub weight: f64,
    /// Evidence raising it, strongest first.
    pub evidence_for: Vec<Evidence>,
    /// Evidence lowering it, strongest first.
    pub evidence_against: Vec<Evidence>,
}

impl Candidate {
    /// Cause id.
    pub fn id(&self) -> &str {
        &self.cause.id
    }
    /// Clinical name.
    pub fn name(&self) -> &str {
        &self.cause.name
    }
    /// Plain name.
    pub fn plain(&self) -> &str {
        &self.cause.plain
    }
    /// Can't-miss cause.
    pub fn cant_miss(&self) -> bool {
        self.cause.cant_miss
    }
    /// Tests that help confirm or exclude it.
    pub fn tests(&self) -> &[String] {
        &self.cause.tests
    }
    /// A sentence on the cause.
    pub fn summary(&self) -> &str {
        &self.cause.summary
    }
    /// Sources.
    pub fn sources(&self) -> &[String] {
        &self.cause.sources
    }
}

fn prior(c: &Cause, band: AgeBand) -> f64 {
    match band {
        AgeBand::Infant => c.prior.infant,
        AgeBand::Child => c.prior.child,
        AgeBand::Adult => c.prior.adult,
        AgeBand::Older => c.prior.older,
    }
}

/// How many causes are described in full; the rest only move the shares.
const LISTED: usize = 10;

/// Ranks every cause, most likely first, and describes the first ten in full. `truths` holds
/// each finding's truth by its knowledge-base slot (`Knowledge::finding_slot`).
pub fn rank(
    kb: &Knowledge,
    findings: &Findings,
    truths: &[Truth],
    band: AgeBand,
) -> Vec<Candidate> {
    // Weights first (cheap, by slot), then words only for the causes that are listed.
    let mut scored: Vec<(f64, &Arc<Cause>)> = kb
        .causes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut w = prior(c, band).ln();
            for (cf, slot) in c.findings.iter().zip(kb.cause_finding_slots(i)) {
                let lr = match truths.get(*slot) {
                    Some(Truth::True) => cf.lr_present,
                    Some(Truth::False) => cf.lr_absent,
                    _ => 1.0,
                };
                w += lr.ln();
            }
            (w, c)
        })
        .collect();
    let max = scored
        .iter()
        .map(|(w, _)| *w)
        .fold(f64::NEG_INFINITY, f64::max);
    let total: f64 = scored.iter().map(|(w, _)| (w - max).exp()).sum();
    scored.sort_by(|(wa, a), (wb, b)| {
        wb.total_cmp(wa)
            .then(b.cant_miss.cmp(&a.cant_miss))
            .then(a.id.cmp(&b.id))
    });
    scored
        .into_iter()
        .take(LISTED)
        .map(|(log_w, c)| {
            let mut evidence_for = Vec::new();
            let mut evidence_against = Vec::new();
            let slots = kb
                .causes
                .iter()
                .position(|k| Arc::ptr_eq(k, c))
                .map_or(&[][..], |i| kb.cause_finding_slots(i));
            for (index, (cf, slot)) in c.findings.iter().zip(slots).enumerate() {
                let (lr, truth) = match truths.get(*slot) {
                    Some(Truth::True) => (cf.lr_present, Truth::True),
                    Some(Truth::False) => (cf.lr_absent, Truth::False),
                    _ => continue,
                };
                if lr == 1.0 {
                    continue;
                }
                let e = Evidence {
                    cause: Arc::clone(c),
                    index,
                    truth,
                    lr,
                };
                if lr > 1.0 {
                    evidence_for.push(e)
                } else {
                    evidence_against.push(e)
                }
            }
            evidence_for.sort_by(|a, b| b.lr.total_cmp(&a.lr));
            evidence_against.sort_by(|a, b| a.lr.total_cmp(&b.lr));
            let mut icd10 = c.icd10.clone();
            for w in &c.icd10_when {
                if findings.get(&w.finding).is_some_and(|f| f.truth.is_true()) {
                    for code in &w.codes {
                        if !icd10.contains(code) {
                            icd10.insert(0, code.clone());
                        }
                    }
                }
            }
            Candidate {
                cause: Arc::clone(c),
                icd10,
                weight: (log_w - max).exp() / total,
                evidence_for,
                evidence_against,
            }
        })
        .collect()
}

/// Can't-miss causes that remain open: not pushed down by evidence against them, and either
/// carrying a meaningful share or some evidence for them.
pub fn cant_miss_open(ranked: &[Candidate]) -> Vec<&Candidate> {
    ranked
        .iter()
        .filter(|c| c.cant_miss())
        .filter(|c| c.weight >= 0.02 || c.evidence_for.iter().any(|e| e.lr >= 10.0))
        .filter(|c| c.evidence_against.iter().all(|e| e.lr >= 0.05))
        .collect()
}
