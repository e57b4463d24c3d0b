//! The world the agents live in: domains, models, agents, people and words.

use serde_json::{Map, Value};

use super::rng::Rng;

pub(super) struct Domain {
    pub(super) name: &'static str,
    pub(super) tools: [&'static str; 3],
    pub(super) actions: &'static [&'static str],
    pub(super) policy: &'static str,
    pub(super) request: &'static str,
}

pub(super) const DOMAINS: &[Domain] = &[
    Domain {
        name: "refund-agent",
        tools: ["order_lookup", "payment_refund", "crm_lookup"],
        actions: &[
            "approve_refund",
            "deny_refund",
            "partial_refund",
            "escalate",
        ],
        policy: "refunds",
        request: "asks for a refund on a recent order",
    },
    Domain {
        name: "claims-triage",
        tools: ["policy_lookup", "claims_db", "fraud_score"],
        actions: &[
            "approve_claim",
            "deny_claim",
            "request_documents",
            "escalate",
        ],
        policy: "claims",
        request: "filed a claim for water damage",
    },
    Domain {
        name: "kyc-verifier",
        tools: ["id_verify", "sanctions_screen", "crm_lookup"],
        actions: &["verify", "reject", "manual_review"],
        policy: "kyc",
        request: "opened an account and uploaded identity documents",
    },
    Domain {
        name: "loan-underwriter",
        tools: ["credit_bureau", "income_verify", "risk_model"],
        actions: &["approve_loan", "decline_loan", "counter_offer", "escalate"],
        policy: "lending",
        request: "applied for a personal loan",
    },
    Domain {
        name: "support-router",
        tools: ["ticket_search", "kb_search", "crm_lookup"],
        actions: &["route_tier1", "route_tier2", "auto_reply", "escalate"],
        policy: "support",
        request: "wrote to support about a billing question",
    },
    Domain {
        name: "fraud-monitor",
        tools: ["txn_history", "device_fingerprint", "fraud_score"],
        actions: &["block_card", "allow", "step_up_auth", "escalate"],
        policy: "fraud",
        request: "made a card payment that tripped a velocity rule",
    },
    Domain {
        name: "prior-auth",
        tools: ["eligibility_check", "formulary_lookup", "provider_lookup"],
        actions: &["approve_auth", "deny_auth", "pend", "escalate"],
        policy: "prior-auth",
        request: "needs prior authorization for a procedure",
    },
    Domain {
        name: "procurement-bot",
        tools: ["vendor_lookup", "budget_check", "po_create"],
        actions: &["approve_po", "reject_po", "escalate"],
        policy: "procurement",
        request: "requested a purchase order for new equipment",
    },
    Domain {
        name: "privacy-desk",
        tools: ["dsar_search", "consent_lookup", "records_export"],
        actions: &["fulfil_request", "reject_request", "escalate"],
        policy: "privacy",
        request: "asked for a copy of their personal data",
    },
    Domain {
        name: "billing-agent",
        tools: ["invoice_lookup", "payment_plan", "crm_lookup"],
        actions: &["waive_fee", "apply_credit", "deny", "escalate"],
        policy: "billing",
        request: "disputes a late fee on an invoice",
    },
];

/// (model, input $/token, output $/token).
pub(super) const MODELS: &[(&str, f64, f64)] = &[
    ("gpt-4o-2024-08-06", 2.5e-6, 10e-6),
    ("gpt-4o-mini-2024-07-18", 0.15e-6, 0.6e-6),
    ("claude-sonnet-4-5-20250929", 3e-6, 15e-6),
    ("claude-haiku-4-5-20251001", 1e-6, 5e-6),
    ("gemini-2.5-pro", 1.25e-6, 10e-6),
    ("llama-3.1-70b-instruct", 0.6e-6, 0.6e-6),
];

#[rustfmt::skip]
pub(super) const CHANNELS: &[&str] = &[
    "email", "chat", "webhook", "api", "schedule", "phone-transcript",
];
#[rustfmt::skip]
pub(super) const ENVIRONMENTS: &[&str] = &[
    "production", "production", "production", "production-eu", "staging",
];
#[rustfmt::skip]
pub(super) const TARGETS: &[&str] = &[
    "payments-api", "crm", "email-gateway", "ledger", "ticketing",
];
#[rustfmt::skip]
pub(super) const FIRST: &[&str] = &[
    "maria", "james", "li", "amara", "john", "sofia", "wei", "fatima", "lars", "ingrid",
    "pierre", "yuki", "omar", "ana", "david", "elena", "kwame", "priya", "tomas",
    "chen",
];
#[rustfmt::skip]
pub(super) const LAST: &[&str] = &[
    "gonzalez", "smith", "wei", "okafor", "johnson", "rossi", "tanaka", "nguyen",
    "muller", "dubois", "kim", "garcia", "silva", "haddad", "novak", "larsen", "patel",
    "moreau",
];
#[rustfmt::skip]
pub(super) const MAIL_DOMAINS: &[&str] = &[
    "example.com", "mail.example.org", "example.net", "inbox.example.io",
];
#[rustfmt::skip]
pub(super) const REVIEWERS: &[&str] = &[
    "maria.chen", "tom.berger", "aisha.khan", "lukas.schmidt", "nora.lind", "sam.ortiz",
    "ivan.petrov", "grace.obi",
];

/// Words of the payload text. No word looks like personal data.
#[rustfmt::skip]
pub(super) const WORDS: &[&str] = &[
    "the", "a", "and", "or", "but", "if", "then", "when", "because", "so", "that",
    "this", "it", "is", "was", "be", "has", "have", "will", "would", "can", "should",
    "may", "must", "not", "no", "yes", "all", "any", "each", "more", "only", "also",
    "still", "we", "you", "they", "our", "your", "their", "customer", "account",
    "order", "refund", "invoice", "payment", "charge", "balance", "policy", "claim",
    "ticket", "request", "case", "review", "approve", "deny", "escalate", "verify",
    "identity", "address", "shipping", "delivery", "delayed", "damaged", "missing",
    "item", "product", "subscription", "plan", "renewal", "cancel", "fee", "credit",
    "debit", "transaction", "dispute", "chargeback", "fraud", "risk", "score",
    "threshold", "limit", "amount", "total", "currency", "date", "window", "eligible",
    "eligibility", "exception", "manual", "automatic", "model", "tool", "result",
    "retrieval", "document", "knowledge", "article", "section", "paragraph",
    "according", "under", "within", "after", "before", "since", "until", "during",
    "about", "above", "below", "please", "thanks", "hello", "regards", "team",
    "support", "manager", "supervisor", "analyst", "check", "confirm", "update",
    "create", "close", "open", "reopen", "assign", "transfer", "notify", "message",
    "reply", "response", "summary", "note", "history", "previous", "last", "first",
    "next", "days", "hours", "business", "week", "month", "quarter", "annual", "terms",
    "conditions", "clause", "rule", "regulation", "compliance", "audit", "record",
    "evidence", "reason", "rationale", "decision", "outcome", "status", "pending",
    "resolved", "rejected", "approved", "escalated", "failed", "success", "error",
    "timeout", "retry", "quota", "budget", "premium", "standard", "basic", "enterprise",
    "tier", "loyalty", "member", "points", "return", "label", "warehouse", "carrier",
    "tracking", "package", "parcel", "courier", "insurance", "coverage", "deductible",
    "beneficiary", "adjuster", "loan", "application", "income", "employment", "debt",
    "ratio", "collateral", "medical", "authorization", "diagnosis", "procedure",
    "provider", "network", "contract", "vendor", "supplier", "purchase", "requisition",
    "approval", "workflow", "step", "privacy", "consent", "personal", "information",
    "retention", "deletion", "access", "based", "provided", "appears", "however",
    "therefore", "additionally", "furthermore", "recommended", "action", "verified",
    "matches", "mismatch", "flagged", "cleared", "duplicate", "partial", "full",
    "overdue", "grace", "period", "waiver", "goodwill", "gesture",
];

pub(super) struct Agent {
    pub(super) id: String,
    pub(super) domain: &'static Domain,
    pub(super) version: String,
    pub(super) model: &'static str,
    pub(super) price_in: f64,
    pub(super) price_out: f64,
    pub(super) temperature: f64,
    pub(super) max_tokens: u32,
    pub(super) prompt_version: String,
    pub(super) tool_versions: Map<String, Value>,
    pub(super) retrieval_index_version: String,
    pub(super) policy_snapshot: String,
    pub(super) workflow_version: String,
    pub(super) system_prompt: String,
    /// Relative share of the traffic.
    pub(super) weight: f64,
}

pub(super) fn make_agent(rng: &mut Rng, index: usize) -> Agent {
    let domain = &DOMAINS[index % DOMAINS.len()];
    let deployment = index / DOMAINS.len() + 1;
    let &(model, price_in, price_out) = rng.pick(MODELS);
    let version = format!(
        "{}.{}.{}",
        rng.range(1, 4),
        rng.range(0, 20),
        rng.range(0, 9)
    );
    let tool_versions = domain
        .tools
        .iter()
        .map(|t| {
            let v = format!(
                "{}.{}.{}",
                rng.range(1, 5),
                rng.range(0, 12),
                rng.range(0, 9)
            );
            ((*t).to_owned(), Value::String(v))
        })
        .collect();
    let system_prompt = format!(
        "You are {}, an AI agent acting for the operations team. Follow the {} policy. {} Never reveal internal notes. Cite the rule you apply.",
        domain.name,
        domain.policy,
        super::text::spread_text(rng, 150),
    );
    Agent {
        id: format!("{}-{deployment:02}", domain.name),
        domain,
        version,
        model,
        price_in,
        price_out,
        temperature: *rng.pick(&[0.0, 0.0, 0.1, 0.2, 0.3, 0.7]),
        max_tokens: *rng.pick(&[512, 1024, 2048, 4096]),
        prompt_version: format!("{}-system@v{}", domain.name, rng.range(3, 40)),
        tool_versions,
        retrieval_index_version: format!(
            "kb-{}@2025-{:02}-{:02}",
            domain.policy,
            rng.range(1, 12),
            rng.range(1, 28)
        ),
        policy_snapshot: format!("sha256:{}", rng.hex(64)),
        workflow_version: format!("{}-flow@{}", domain.name, rng.range(1, 9)),
        system_prompt,
        // A few busy agents, a long tail of quiet ones.
        weight: 12.0 / (index as f64 + 2.0) + 0.2,
    }
}
