use super::*;
use crate::keys::KeyType;
use crate::merkle::{MerkleHasher, Sha256};

fn signer(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, KeyType::Ed25519, &[seed; 32]).unwrap()
}

fn witness(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_seed(name, KeyType::Cosignature, &[seed; 32]).unwrap()
}

#[test]
fn sign_parse_verify_round_trip_with_two_keys() {
    let (a, b) = (signer("a.example/log", 1), signer("b.example/x", 2));
    let note = SignedNote::sign("hello\n\nworld\n", &[&a, &b]).unwrap();
    let bytes = note.to_text();
    let parsed = SignedNote::parse(bytes.as_bytes()).unwrap();
    assert_eq!(parsed, note);
    assert_eq!(parsed.text(), "hello\n\nworld\n");
    let v = parsed.verify(&[b.verifier()]).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].key, b.verifier());
}

#[test]
fn trust_rules() {
    let (a, b, c) = (signer("a", 1), signer("b", 2), signer("c", 3));
    let note = SignedNote::sign("t\n", &[&a, &b]).unwrap();
    // Unknown keys only: rejected.
    assert_eq!(note.verify(&[c.verifier()]), Err(NoteError::NoKnownSignature));
    // Same name, other key (so other ID): ignored, not failed.
    let a2 = signer("a", 9);
    assert_eq!(note.verify(&[a2.verifier()]), Err(NoteError::NoKnownSignature));
    // A known key whose signature fails rejects the whole note even when
    // another known key verified.
    let mut tampered = note.clone();
    tampered.signatures[1].signature[0] ^= 1;
    assert!(matches!(
        tampered.verify(&[a.verifier(), b.verifier()]),
        Err(NoteError::BadSignature(_))
    ));
    // Changed text.
    let other = SignedNote::parse(note.to_text().replacen("t\n", "u\n", 1).as_bytes()).unwrap();
    assert!(matches!(other.verify(&[a.verifier()]), Err(NoteError::BadSignature(_))));
    // The same known key twice.
    let mut dup = note.clone();
    dup.signatures.push(dup.signatures[0].clone());
    assert!(matches!(
        dup.verify(&[a.verifier()]),
        Err(NoteError::DuplicateSignature(_))
    ));
}

#[test]
fn parse_errors_are_precise() {
    let a = signer("a", 1);
    let good = SignedNote::sign("t\n", &[&a]).unwrap().to_text();
    assert_eq!(SignedNote::parse(b"\xff\n\n"), Err(NoteError::NotUtf8));
    assert_eq!(SignedNote::parse(b"t\r\n\n"), Err(NoteError::ControlCharacter(0x0d)));
    assert_eq!(SignedNote::parse(b"no blank line\n"), Err(NoteError::NoSignatureBlock));
    assert_eq!(
        SignedNote::parse(good.trim_end().as_bytes()),
        Err(NoteError::NoSignatureBlock)
    );
    assert_eq!(
        SignedNote::parse(b"t\n\n- a AAAAAAA=\n"),
        Err(NoteError::MalformedSignatureLine(1))
    );
    assert_eq!(
        SignedNote::parse("t\n\n\u{2014} a AAAA\n".as_bytes()),
        Err(NoteError::MalformedSignatureLine(1))
    );
    assert_eq!(
        SignedNote::parse(&vec![b'a'; MAX_NOTE_BYTES + 1]),
        Err(NoteError::TooLarge(MAX_NOTE_BYTES + 1))
    );
    let line = good.lines().last().unwrap();
    let many = format!("t\n\n{}", format!("{line}\n").repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        SignedNote::parse(many.as_bytes()),
        Err(NoteError::TooManySignatures(MAX_SIGNATURES + 1))
    );
    let sixteen = format!("t\n\n{}", format!("{line}\n").repeat(16));
    assert!(SignedNote::parse(sixteen.as_bytes()).is_ok());
    assert_eq!(SignedNote::sign("no newline", &[&a]), Err(NoteError::BadText));
}

#[test]
fn checkpoints_sign_verify_and_parse_strictly() {
    let log = signer("log.example/cairn", 5);
    let root = Sha256::hash_leaf(b"x");
    let cp = Checkpoint::new("log.example/cairn", 42, root);
    let note = cp.sign(&log).unwrap().to_text();
    let (got, _, cosigs) = Checkpoint::verify(note.as_bytes(), &log.verifier(), &[]).unwrap();
    assert_eq!(got, cp);
    assert!(cosigs.is_empty());
    assert!(matches!(
        Checkpoint::new("other", 1, root).sign(&log),
        Err(NoteError::OriginMismatch { .. })
    ));
    for (text, why) in [
        ("log\n042\n{r}\n", "leading zero"),
        ("log\n-1\n{r}\n", "negative"),
        ("log\n1\n{r}", "no final newline"),
        ("\n1\n{r}\n", "empty origin"),
        ("log\n1\n", "no root"),
        ("log\n1\nAAAA\n", "short root"),
        ("log\n1\n{r}\n\n", "empty extension"),
        ("log\n18446744073709551616\n{r}\n", "size overflow"),
    ] {
        let text = text.replace("{r}", &root.to_base64());
        assert!(
            matches!(Checkpoint::parse(&text), Err(NoteError::Checkpoint(_))),
            "{why}"
        );
    }
    let ext = Checkpoint::parse(&format!("log\n0\n{}\nsome ext\n", root.to_base64())).unwrap();
    assert_eq!(ext.extensions, vec!["some ext".to_owned()]);
    assert_eq!(Checkpoint::parse(&ext.to_text()).unwrap(), ext);
}

#[test]
fn cosignatures_follow_tlog_cosignature() {
    let log = signer("log.example/cairn", 5);
    let w = witness("witness.example/w1", 6);
    let cp = Checkpoint::new("log.example/cairn", 7, Sha256::hash_leaf(b"y"));
    let mut note = cp.sign(&log).unwrap();
    note.add_cosignature(&w, 1_679_315_147).unwrap();
    let (_, _, cosigs) = Checkpoint::verify(note.to_text().as_bytes(), &log.verifier(), &[w.verifier()]).unwrap();
    assert_eq!(cosigs.len(), 1);
    assert_eq!(cosigs[0].timestamp, Some(1_679_315_147));
    // The signed message is the spec's.
    let sig = &note.signatures()[1].signature;
    let msg = format!("cosignature/v1\ntime 1679315147\n{}", cp.to_text());
    assert!(w.verifier().verify(msg.as_bytes(), &sig[8..]));
    // The key ID commits to type 0x04: the same key as type 0x01 has another ID.
    let as_ed = SignerKey::from_seed("witness.example/w1", KeyType::Ed25519, &[6; 32]).unwrap();
    assert_ne!(as_ed.id(), w.id());
    // A wrong timestamp breaks it.
    let mut bad = note.clone();
    bad.signatures[1].signature[7] ^= 1;
    assert!(matches!(
        Checkpoint::verify(bad.to_text().as_bytes(), &log.verifier(), &[w.verifier()]),
        Err(NoteError::BadSignature(_))
    ));
    assert!(matches!(note.add_cosignature(&log, 1), Err(NoteError::WrongKeyType(_))));
    assert!(matches!(
        note.add_cosignature(&w, u64::MAX),
        Err(NoteError::BadTimestamp(_))
    ));
}

#[test]
fn the_c2sp_cosignature_example_parses_to_its_key_id_and_timestamp() {
    // tlog-cosignature.md's example: the witness line carries key ID
    // 0x8d66cf3f and the timestamp of its signed-message example.
    let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    let parsed = SignedNote::parse(note.as_bytes()).unwrap();
    let w = &parsed.signatures()[1];
    assert_eq!(w.name, "witness.example.com/w1");
    assert_eq!(w.key_id, 0x8d66_cf3f);
    let (t, sig) = cosignature_time(&w.signature).unwrap();
    assert_eq!((t, sig.len()), (1_679_315_147, 64));
    assert_eq!(
        cosigned_message(parsed.text(), t),
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    assert_eq!(parsed.to_text(), note, "lines are kept verbatim");
}
