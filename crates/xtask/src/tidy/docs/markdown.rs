//! The little of Markdown the doc checks need: fenced code blocks, ATX headings and their GitHub anchors,
//! inline links and inline code spans. Hand-written rather than a CommonMark crate because the checks
//! need line numbers and GitHub's slug rule, and the docs use a small, regular subset.

/// A fenced code block: its info string (```` ```sh runs=here ```` → `sh runs=here`), body and the line
/// (1-based) of its opening fence.
#[derive(Debug, Clone)]
pub struct Block {
    pub info: String,
    pub body: String,
    pub line: usize,
}

impl Block {
    /// The value of a `key=value` word in the info string.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.info
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }

    /// The block's language: the info string's first word.
    pub fn lang(&self) -> &str {
        self.info.split_whitespace().next().unwrap_or("")
    }
}

/// A line outside code blocks, with its number; prose, headings and tables.
#[derive(Debug, Clone)]
pub struct Line<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// A parsed document: the lines outside fenced blocks, and the blocks.
#[derive(Debug, Default)]
pub struct Parsed<'a> {
    pub prose: Vec<Line<'a>>,
    pub blocks: Vec<Block>,
}

/// Splits a document into prose lines and fenced blocks (``` or ~~~, closed by the same fence).
pub fn parse(text: &str) -> Parsed<'_> {
    let mut out = Parsed::default();
    let mut open: Option<(String, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some((fence, block)) = &mut open {
            if trimmed.trim_end() == fence.as_str() {
                if let Some((_, b)) = open.take() {
                    out.blocks.push(b);
                }
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
            continue;
        }
        let fence: String = trimmed
            .chars()
            .take_while(|c| *c == '`' || *c == '~')
            .collect();
        if fence.len() >= 3 && fence.chars().all(|c| fence.starts_with(c)) {
            let block = Block {
                info: trimmed[fence.len()..].trim().to_owned(),
                body: String::new(),
                line: i + 1,
            };
            open = Some((fence, block));
        } else {
            out.prose.push(Line {
                number: i + 1,
                text: line,
            });
        }
    }
    // An unclosed fence runs to the end of the document, as on GitHub.
    if let Some((_, b)) = open {
        out.blocks.push(b);
    }
    out
}

/// The anchors GitHub generates for the document's headings, in order, duplicates numbered
/// (`#usage`, `#usage-1`, …).
pub fn anchors(parsed: &Parsed<'_>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for line in &parsed.prose {
        let t = line.text.trim_start();
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) || !t[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&t[hashes..]);
        let n = seen.iter().filter(|s| **s == base).count();
        out.push(if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        seen.push(base);
    }
    out
}

/// GitHub's heading slug (github-slugger): the rendered text lower-cased, every character that is not a
/// letter, digit, `-`, `_` or space removed, each space turned into `-`. Markup is rendered first:
/// code ticks and emphasis vanish, a link keeps its text.
pub fn slug(heading: &str) -> String {
    let heading = heading.trim();
    let text = links(heading)
        .into_iter()
        .rev()
        .fold(heading.to_owned(), |mut s, l| {
            s.replace_range(l.span.clone(), &l.text);
            s
        });
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// An inline link `[text](target)` (images too), with its byte span in the line.
#[derive(Debug, Clone)]
pub struct Link {
    pub text: String,
    pub target: String,
    pub span: std::ops::Range<usize>,
}

/// Inline links of one line, outside code spans. A target ends at the first `)` or space (titles
/// `"…"` are not used in these docs).
pub fn links(line: &str) -> Vec<Link> {
    let code = code_span_ranges(line);
    let in_code = |i: usize| code.iter().any(|r| r.contains(&i));
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'[' && !in_code(i) {
            // The matching `]`, allowing nested brackets in the text.
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            if j + 1 < b.len()
                && b[j + 1] == b'('
                && let Some(close) = line[j + 2..].find([')', ' '])
            {
                let target = &line[j + 2..j + 2 + close];
                let end = j + 2 + close + 1;
                out.push(Link {
                    text: line[i + 1..j].replace('`', ""),
                    target: target.to_owned(),
                    span: i..end.min(line.len()),
                });
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Byte ranges of inline code spans (`` `…` ``, equal-length backtick runs) in one line.
pub fn code_span_ranges(line: &str) -> Vec<std::ops::Range<usize>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            let run = b[i..].iter().take_while(|c| **c == b'`').count();
            let fence = &line[i..i + run];
            if let Some(close) = line[i + run..].find(fence) {
                let end = i + run + close + run;
                out.push(i..end);
                i = end;
                continue;
            }
            i += run;
        } else {
            i += 1;
        }
    }
    out
}

/// The contents of the inline code spans of one line.
pub fn code_spans(line: &str) -> Vec<&str> {
    code_span_ranges(line)
        .into_iter()
        .map(|r| line[r].trim_matches('`').trim())
        .collect()
}
