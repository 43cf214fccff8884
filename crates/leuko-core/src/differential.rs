//! Ranks the causes: relative prior by age band times the likelihood ratios of the findings
//! that are known (present or absent). Unknown findings do not move a cause.

use leuko_kb::{Cause, Knowledge};

use crate::reference::AgeBand;
use crate::{Findings, Truth};

/// One piece of evidence for or against a cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The finding id.
    pub finding: String,
    /// Present or absent.
    pub truth: Truth,
    /// The likelihood ratio applied.
    pub lr: f64,
    /// Why it matters.
    pub why: String,
    /// What in the record it rests on.
    pub detail: String,
    /// Sources of the weight.
    pub sources: Vec<String>,
}

/// A ranked cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Cause id.
    pub id: String,
    /// Clinical name.
    pub name: String,
    /// Plain name.
    pub plain: String,
    /// ICD-10-CM codes (with those added by present findings).
    pub icd10: Vec<String>,
    /// Share of the total weight (0 to 1); a ranking aid, not a probability of disease.
    pub weight: f64,
    /// Can't-miss cause.
    pub cant_miss: bool,
    /// Evidence raising it, strongest first.
    pub evidence_for: Vec<Evidence>,
    /// Evidence lowering it, strongest first.
    pub evidence_against: Vec<Evidence>,
    /// Tests that help confirm or exclude it.
    pub tests: Vec<String>,
    /// A sentence on the cause.
    pub summary: String,
    /// Sources.
    pub sources: Vec<String>,
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

fn lr_of(cf: &leuko_kb::CauseFinding, findings: &Findings) -> Option<(f64, Truth)> {
    let f = findings.get(&cf.id)?;
    let lr = match f.truth {
        Truth::True => cf.lr_present,
        Truth::False => cf.lr_absent,
        Truth::Unknown => 1.0,
    };
    (lr != 1.0).then_some((lr, f.truth))
}

/// Ranks every cause, most likely first, and describes the first ten in full. `truths` holds
/// each finding's truth by its knowledge-base slot (`Knowledge::finding_slot`).
pub fn rank(
    kb: &Knowledge,
    findings: &Findings,
    truths: &[Truth],
    band: AgeBand,
) -> Vec<Candidate> {
    // Weights first (cheap, by slot), then words only for the causes that are listed.
    let mut scored: Vec<(f64, &Cause)> = kb
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
            for cf in &c.findings {
                let Some((lr, truth)) = lr_of(cf, findings) else {
                    continue;
                };
                let e = Evidence {
                    finding: cf.id.clone(),
                    truth,
                    lr,
                    why: cf.why.clone(),
                    detail: findings
                        .get(&cf.id)
                        .map(|f| f.detail.clone())
                        .unwrap_or_default(),
                    sources: cf.sources.clone(),
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
                id: c.id.clone(),
                name: c.name.clone(),
                plain: c.plain.clone(),
                icd10,
                weight: (log_w - max).exp() / total,
                cant_miss: c.cant_miss,
                evidence_for,
                evidence_against,
                tests: c.tests.clone(),
                summary: c.summary.clone(),
                sources: c.sources.clone(),
            }
        })
        .collect()
}

/// Can't-miss causes that remain open: not pushed down by evidence against them, and either
/// carrying a meaningful share or some evidence for them.
pub fn cant_miss_open(ranked: &[Candidate]) -> Vec<&Candidate> {
    ranked
        .iter()
        .filter(|c| c.cant_miss)
        .filter(|c| c.weight >= 0.02 || c.evidence_for.iter().any(|e| e.lr >= 10.0))
        .filter(|c| c.evidence_against.iter().all(|e| e.lr >= 0.05))
        .collect()
}
