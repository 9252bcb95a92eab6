//! The fast path of [`super::Receipt::from_cbor`]: deterministic CBOR read
//! straight into [`ReceiptParts`], field by field, with no value tree, no
//! JSON view and no re-encoding.
//!
//! It accepts exactly the payloads the reference decoder
//! ([`super::Receipt::from_cbor_reference`]: view decode, serde, validation,
//! re-encode and compare) accepts, and yields the same parts:
//! - every encoding rule of [`crate::view`] is checked as the bytes are read:
//!   item headers by [`crate::cbor::header`] (shortest form, definite
//!   lengths, no floats), text UTF-8 and NFC, map keys text, sorted by their
//!   encoding and unique, no tag but a canonical decimal fraction, byte strings only at the typed paths, one
//!   item and no trailing bytes;
//! - the schema is the structs' own: every key must be a field of the
//!   struct, every required field present, each value of the field's type;
//! - an optional field is absent, never null. That was the one way a payload
//!   could pass the reference decoder's schema and fail its re-encoding: with
//!   the rules above, the bytes read are the canonical encoding of the parts
//!   they yield.
//!
//! Whatever breaks a rule makes it give up ([`Miss`]), and the caller runs
//! the reference decoder, whose error is the one reported. So the fast path
//! decides only how quickly a valid payload is read; a differential test and
//! the `receipt` fuzz target hold the two to the same verdicts.

use serde_json::{Map, Value};
use unicode_normalization::is_nfc;

use super::types::*;
use crate::cbor::{Cursor, MAX_DEPTH};
use crate::merkle::Hash;
use crate::timestamp::Timestamp;

/// The fast path gave up: run the reference decoder for the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Miss;

type R<T> = Result<T, Miss>;

/// Read a receipt payload into its parts (validation is the caller's).
pub(super) fn parts(bytes: &[u8]) -> R<ReceiptParts> {
    let mut d = Dec { c: Cursor::new(bytes) };
    let parts = receipt(&mut d)?;
    if d.c.remaining() != 0 {
        return Err(Miss);
    }
    Ok(parts)
}

/// A cursor over the payload.
struct Dec<'a> {
    c: Cursor<'a>,
}

impl<'a> Dec<'a> {
    /// The next item's (major type, additional information, argument).
    fn head(&mut self) -> R<(u8, u8, u64)> {
        self.c.head().map_err(|_| Miss)
    }

    /// `n` bytes of content, which must all be there.
    fn take(&mut self, n: u64) -> R<&'a [u8]> {
        self.c.take(n).map_err(|_| Miss)
    }

    /// A count of `n` items, each at least one byte: at most what is left.
    fn count(&self, n: u64) -> R<usize> {
        usize::try_from(n).ok().filter(|&n| n <= self.c.remaining()).ok_or(Miss)
    }

    fn text_of(&mut self, arg: u64) -> R<&'a str> {
        let s = std::str::from_utf8(self.take(arg)?).map_err(|_| Miss)?;
        if is_nfc(s) { Ok(s) } else { Err(Miss) }
    }

    fn text(&mut self) -> R<&'a str> {
        match self.head()? {
            (3, _, arg) => self.text_of(arg),
            _ => Err(Miss),
        }
    }

    fn string(&mut self) -> R<String> {
        self.text().map(str::to_owned)
    }

    fn uint(&mut self) -> R<u64> {
        match self.head()? {
            (0, _, n) => Ok(n),
            _ => Err(Miss),
        }
    }

    fn boolean(&mut self) -> R<bool> {
        match self.head()? {
            (7, 20, _) => Ok(false),
            (7, 21, _) => Ok(true),
            _ => Err(Miss),
        }
    }

    /// A time path: unsigned milliseconds in range.
    fn time(&mut self) -> R<Timestamp> {
        Timestamp::from_millis(self.uint()?).map_err(|_| Miss)
    }

    /// A bytes path of exactly `N` bytes.
    fn fixed<const N: usize>(&mut self) -> R<[u8; N]> {
        let bytes = self.c.bytes().ok_or(Miss)?;
        <[u8; N]>::try_from(bytes).map_err(|_| Miss)
    }

    fn hash(&mut self) -> R<Hash> {
        self.fixed().map(Hash)
    }

    /// A map with text keys in canonical order; `field` reads each value
    /// given its key and refuses the keys it does not know.
    fn map(&mut self, field: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<()> {
        match self.head()? {
            (5, _, n) => self.entries(n, field),
            _ => Err(Miss),
        }
    }

    /// The `n` entries of a map whose header was read.
    fn entries(&mut self, n: u64, mut field: impl FnMut(&mut Self, &'a str) -> R<()>) -> R<()> {
        let n = self.count(n.checked_mul(2).ok_or(Miss)?)? / 2;
        let mut prev: Option<&[u8]> = None;
        for _ in 0..n {
            let start = self.c.pos();
            let key = self.text()?;
            let encoded = self.c.since(start);
            // Sorted by encoding and unique: strictly increasing.
            if prev.is_some_and(|p| p >= encoded) {
                return Err(Miss);
            }
            prev = Some(encoded);
            field(self, key)?;
        }
        Ok(())
    }

    fn array<T>(&mut self, mut item: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
        let (4, _, n) = self.head()? else {
            return Err(Miss);
        };
        let n = self.count(n)?;
        let mut out = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn strings(&mut self) -> R<Vec<String>> {
        self.array(Self::string)
    }

    /// A free-form object (`properties`, `context`).
    fn object(&mut self) -> R<Object> {
        let mut out = Map::new();
        self.map(|d, k| {
            let v = d.value(1)?;
            out.insert(k.to_owned(), v);
            Ok(())
        })?;
        Ok(out)
    }

    /// An integer within i64.
    fn int(&mut self) -> R<i64> {
        let (major, _, arg) = self.head()?;
        let n = i64::try_from(arg).map_err(|_| Miss)?;
        match major {
            0 => Ok(n),
            1 => Ok(-1 - n),
            _ => Err(Miss),
        }
    }

    /// A free-form value nested `depth` levels in its object.
    fn value(&mut self, depth: usize) -> R<Value> {
        let (major, info, arg) = self.head()?;
        Ok(match major {
            0 => Value::from(arg),
            1 => Value::from(-1 - i64::try_from(arg).map_err(|_| Miss)?),
            3 => Value::String(self.text_of(arg)?.to_owned()),
            4 | 5 if depth >= MAX_DEPTH => return Err(Miss),
            4 => {
                let n = self.count(arg)?;
                let mut items = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            5 => {
                let mut out = Map::new();
                self.entries(arg, |d, k| {
                    let v = d.value(depth + 1)?;
                    out.insert(k.to_owned(), v);
                    Ok(())
                })?;
                Value::Object(out)
            }
            7 => match info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                _ => return Err(Miss),
            },
            // A decimal fraction: only its canonical form (crate::decimal).
            6 if arg == crate::decimal::DECIMAL_FRACTION_TAG && depth + 1 < MAX_DEPTH => {
                let (major, _, n) = self.head()?;
                if major != 4 || n != 2 {
                    return Err(Miss);
                }
                let exponent = self.int()?;
                let mantissa = self.int()?;
                crate::decimal::value(exponent, mantissa)
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .ok_or(Miss)?
            }
            // Byte strings off the typed paths, other tags.
            _ => return Err(Miss),
        })
    }
}

/// A required field that was not in the map.
fn need<T>(v: Option<T>) -> R<T> {
    v.ok_or(Miss)
}

fn receipt(d: &mut Dec<'_>) -> R<ReceiptParts> {
    let (mut v, mut receipt_id, mut gate, mut decided_at, mut mode, mut decision) =
        (None, None, None, None, None, None);
    let (mut request, mut reason, mut rules, mut errors, mut policy, mut idem) = (None, None, None, None, None, None);
    let (mut nd, mut initiator, mut approval, mut lineage_, mut break_glass_, mut trace_) =
        (None, None, None, None, None, None);
    d.map(|d, k| {
        match k {
            "v" => v = Some(d.uint()?),
            "receipt_id" => receipt_id = Some(d.string()?),
            "gate" => gate = Some(d.string()?),
            "decided_at" => decided_at = Some(d.time()?),
            "mode" => {
                mode = Some(match d.text()? {
                    "ENFORCE" => Mode::Enforce,
                    "SHADOW" => Mode::Shadow,
                    _ => return Err(Miss),
                })
            }
            "decision" => {
                decision = Some(match d.text()? {
                    "PERMIT" => Decision::Permit,
                    "DENY" => Decision::Deny,
                    "SILENCE" => Decision::Silence,
                    _ => return Err(Miss),
                })
            }
            "request" => request = Some(self::request(d)?),
            "reason" => reason = Some(self::reason(d)?),
            "determining_rules" => rules = Some(d.strings()?),
            "errors" => errors = Some(d.strings()?),
            "policy" => policy = Some(self::policy(d)?),
            "idempotency_key" => idem = Some(d.string()?),
            "nd_inputs" => nd = Some(nd_inputs(d)?),
            "initiator" => initiator = Some(self::initiator(d)?),
            "approval" => approval = Some(self::approval(d)?),
            "lineage" => lineage_ = Some(d.array(lineage_link)?),
            "break_glass" => break_glass_ = Some(break_glass(d)?),
            "trace" => trace_ = Some(trace(d)?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(ReceiptParts {
        v: need(v)?,
        receipt_id: need(receipt_id)?,
        gate: need(gate)?,
        decided_at: need(decided_at)?,
        mode: need(mode)?,
        decision: need(decision)?,
        request: need(request)?,
        reason: need(reason)?,
        determining_rules: need(rules)?,
        errors: need(errors)?,
        policy: need(policy)?,
        idempotency_key: need(idem)?,
        nd_inputs: need(nd)?,
        initiator,
        approval,
        lineage: need(lineage_)?,
        break_glass: break_glass_,
        trace: trace_,
    })
}

fn request(d: &mut Dec<'_>) -> R<Request> {
    let (mut subject, mut action, mut resource, mut context) = (None, None, None, None);
    d.map(|d, k| {
        match k {
            "subject" => {
                let (kind, id, properties) = typed_id(d)?;
                subject = Some(Subject { kind, id, properties });
            }
            "action" => action = Some(self::action(d)?),
            "resource" => {
                let (kind, id, properties) = typed_id(d)?;
                resource = Some(Resource { kind, id, properties });
            }
            "context" => context = Some(d.object()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Request {
        subject: need(subject)?,
        action: need(action)?,
        resource: need(resource)?,
        context,
    })
}

/// An AuthZEN subject or resource: `type`, `id`, optional `properties`.
fn typed_id(d: &mut Dec<'_>) -> R<(String, String, Option<Object>)> {
    let (mut kind, mut id, mut properties) = (None, None, None);
    d.map(|d, k| {
        match k {
            "type" => kind = Some(d.string()?),
            "id" => id = Some(d.string()?),
            "properties" => properties = Some(d.object()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok((need(kind)?, need(id)?, properties))
}

fn action(d: &mut Dec<'_>) -> R<Action> {
    let (mut name, mut properties) = (None, None);
    d.map(|d, k| {
        match k {
            "name" => name = Some(d.string()?),
            "properties" => properties = Some(d.object()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Action {
        name: need(name)?,
        properties,
    })
}

fn reason(d: &mut Dec<'_>) -> R<Reason> {
    let (mut code, mut user, mut admin) = (None, None, None);
    d.map(|d, k| {
        match k {
            "code" => code = Some(d.string()?),
            "user_message" => user = Some(d.string()?),
            "admin_message" => admin = Some(d.string()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Reason {
        code: need(code)?,
        user_message: need(user)?,
        admin_message: need(admin)?,
    })
}

fn policy(d: &mut Dec<'_>) -> R<PolicyRef> {
    let (mut bundle_hash, mut bundle_id, mut revision, mut engine) = (None, None, None, None);
    d.map(|d, k| {
        match k {
            "bundle_hash" => bundle_hash = Some(d.hash()?),
            "bundle_id" => bundle_id = Some(d.string()?),
            "revision" => revision = Some(d.uint()?),
            "engine" => {
                let (mut name, mut version) = (None, None);
                d.map(|d, k| {
                    match k {
                        "name" => name = Some(d.string()?),
                        "version" => version = Some(d.string()?),
                        _ => return Err(Miss),
                    }
                    Ok(())
                })?;
                engine = Some(Engine {
                    name: need(name)?,
                    version: need(version)?,
                });
            }
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(PolicyRef {
        bundle_hash: need(bundle_hash)?,
        bundle_id: need(bundle_id)?,
        revision: need(revision)?,
        engine: need(engine)?,
    })
}

/// `clock`, and every other key as a free-form value.
fn nd_inputs(d: &mut Dec<'_>) -> R<NdInputs> {
    let (mut clock, mut other) = (None, Map::new());
    d.map(|d, k| {
        if k == "clock" {
            clock = Some(d.time()?);
        } else {
            let v = d.value(1)?;
            other.insert(k.to_owned(), v);
        }
        Ok(())
    })?;
    Ok(NdInputs {
        clock: need(clock)?,
        other,
    })
}

fn initiator(d: &mut Dec<'_>) -> R<Initiator> {
    let (mut principal, mut digest) = (None, None);
    d.map(|d, k| {
        match k {
            "principal" => principal = Some(d.string()?),
            "request_digest" => digest = Some(d.hash()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Initiator {
        principal: need(principal)?,
        request_digest: need(digest)?,
    })
}

fn approval(d: &mut Dec<'_>) -> R<Approval> {
    let (mut required, mut channel, mut request_id, mut approver) = (None, None, None, None);
    let (mut presented, mut outcome, mut requested_at, mut responded_at, mut expires_at) =
        (None, None, None, None, None);
    d.map(|d, k| {
        match k {
            "required" => required = Some(d.boolean()?),
            "channel" => channel = Some(d.string()?),
            "request_id" => request_id = Some(d.string()?),
            "approver" => {
                let (mut iss, mut sub) = (None, None);
                d.map(|d, k| {
                    match k {
                        "iss" => iss = Some(d.string()?),
                        "sub" => sub = Some(d.string()?),
                        _ => return Err(Miss),
                    }
                    Ok(())
                })?;
                approver = Some(Approver {
                    iss: need(iss)?,
                    sub: need(sub)?,
                });
            }
            "presented" => {
                let (mut message, mut shown, mut arguments) = (None, None, None);
                d.map(|d, k| {
                    match k {
                        "binding_message" => message = Some(d.string()?),
                        "shown_digest" => shown = Some(d.hash()?),
                        "arguments_digest" => arguments = Some(d.hash()?),
                        _ => return Err(Miss),
                    }
                    Ok(())
                })?;
                presented = Some(Presented {
                    binding_message: need(message)?,
                    shown_digest: need(shown)?,
                    arguments_digest: need(arguments)?,
                });
            }
            "outcome" => {
                outcome = Some(match d.text()? {
                    "APPROVED" => ApprovalOutcome::Approved,
                    "DENIED" => ApprovalOutcome::Denied,
                    "TIMED_OUT" => ApprovalOutcome::TimedOut,
                    _ => return Err(Miss),
                })
            }
            "requested_at" => requested_at = Some(d.time()?),
            "responded_at" => responded_at = Some(d.time()?),
            "expires_at" => expires_at = Some(d.time()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Approval {
        required: need(required)?,
        channel: need(channel)?,
        request_id: need(request_id)?,
        approver,
        presented,
        outcome,
        requested_at: need(requested_at)?,
        responded_at,
        expires_at: need(expires_at)?,
    })
}

fn lineage_link(d: &mut Dec<'_>) -> R<LineageLink> {
    let (mut iss, mut sub, mut profile, mut client_id, mut jti) = (None, None, None, None, None);
    let (mut iat, mut exp, mut aud, mut scope, mut token_hash) = (None, None, None, None, None);
    d.map(|d, k| {
        match k {
            "iss" => iss = Some(d.string()?),
            "sub" => sub = Some(d.string()?),
            "sub_profile" => {
                profile = Some(match d.text()? {
                    "human" => SubProfile::Human,
                    "ai_agent" => SubProfile::AiAgent,
                    "workload" => SubProfile::Workload,
                    _ => return Err(Miss),
                })
            }
            "client_id" => client_id = Some(d.string()?),
            "jti" => jti = Some(d.string()?),
            "iat" => iat = Some(d.time()?),
            "exp" => exp = Some(d.time()?),
            "aud" => aud = Some(d.string()?),
            "scope" => scope = Some(d.string()?),
            "token_hash" => token_hash = Some(d.hash()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(LineageLink {
        iss: need(iss)?,
        sub: need(sub)?,
        sub_profile: need(profile)?,
        client_id,
        jti,
        iat,
        exp,
        aud,
        scope,
        token_hash: need(token_hash)?,
    })
}

fn break_glass(d: &mut Dec<'_>) -> R<BreakGlass> {
    let (mut operator, mut justification, mut expires_at, mut signature) = (None, None, None, None);
    d.map(|d, k| {
        match k {
            "operator" => operator = Some(d.string()?),
            "justification" => justification = Some(d.string()?),
            "expires_at" => expires_at = Some(d.time()?),
            "signature" => signature = Some(Signature64(d.fixed()?)),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(BreakGlass {
        operator: need(operator)?,
        justification: need(justification)?,
        expires_at: need(expires_at)?,
        signature: need(signature)?,
    })
}

fn trace(d: &mut Dec<'_>) -> R<Trace> {
    let (mut trace_id, mut span_id) = (None, None);
    d.map(|d, k| {
        match k {
            "trace_id" => trace_id = Some(d.string()?),
            "span_id" => span_id = Some(d.string()?),
            _ => return Err(Miss),
        }
        Ok(())
    })?;
    Ok(Trace {
        trace_id: need(trace_id)?,
        span_id: need(span_id)?,
    })
}
