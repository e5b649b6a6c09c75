//! Building new trees from old ones by editing a few paths, with git2 objects only.

use std::collections::BTreeMap;

use git2::{ObjectType, Oid, Repository, Tree};

/// One path's new content: a blob, or `None` to remove it.
pub(crate) type Edit = (Vec<String>, Option<Oid>);

const FILE_MODE: i32 = 0o100_644;
const TREE_MODE: i32 = 0o040_000;

/// Applies `edits` to `base` and writes the new tree, rewriting only the trees along the edited
/// paths (so the cost does not grow with the number of runs stored elsewhere). Directories left
/// empty disappear, as in git. Returns the root tree's id.
pub(crate) fn edit_tree(
    repo: &Repository,
    base: Option<&Tree<'_>>,
    edits: &[Edit],
) -> Result<Oid, git2::Error> {
    let refs: Vec<(&[String], Option<Oid>)> =
        edits.iter().map(|(p, b)| (p.as_slice(), *b)).collect();
    match edit(repo, base, &refs)? {
        Some(oid) => Ok(oid),
        None => repo.treebuilder(None)?.write(),
    }
}

/// An edit addressed relative to the tree being edited.
type PathEdit<'a> = (&'a [String], Option<Oid>);

fn edit(
    repo: &Repository,
    base: Option<&Tree<'_>>,
    edits: &[PathEdit<'_>],
) -> Result<Option<Oid>, git2::Error> {
    let mut builder = repo.treebuilder(base)?;
    let mut nested: BTreeMap<&str, Vec<PathEdit<'_>>> = BTreeMap::new();
    for &(path, blob) in edits {
        match path {
            [] => {}
            [name] => match blob {
                Some(oid) => {
                    builder.insert(name.as_str(), oid, FILE_MODE)?;
                }
                None => {
                    if builder.get(name.as_str())?.is_some() {
                        builder.remove(name.as_str())?;
                    }
                }
            },
            [dir, rest @ ..] => nested.entry(dir.as_str()).or_default().push((rest, blob)),
        }
    }
    for (dir, sub_edits) in nested {
        let sub_base = match builder.get(dir)? {
            Some(entry) if entry.kind() == Some(ObjectType::Tree) => {
                Some(repo.find_tree(entry.id())?)
            }
            _ => None,
        };
        match edit(repo, sub_base.as_ref(), &sub_edits)? {
            Some(oid) => {
                builder.insert(dir, oid, TREE_MODE)?;
            }
            None => {
                if builder.get(dir)?.is_some() {
                    builder.remove(dir)?;
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    builder.write().map(Some)
}

/// The blob id at `path` in `tree`, if there is a blob there.
pub(crate) fn blob_at(tree: &Tree<'_>, path: &[&str]) -> Option<Oid> {
    let entry = tree.get_path(std::path::Path::new(&path.join("/"))).ok()?;
    (entry.kind() == Some(ObjectType::Blob)).then(|| entry.id())
}

/// The subtree at `path` in `tree`, if there is one.
pub(crate) fn tree_at<'r>(
    repo: &'r Repository,
    tree: &Tree<'_>,
    path: &[&str],
) -> Option<Tree<'r>> {
    if path.is_empty() {
        return repo.find_tree(tree.id()).ok();
    }
    let entry = tree.get_path(std::path::Path::new(&path.join("/"))).ok()?;
    (entry.kind() == Some(ObjectType::Tree))
        .then(|| repo.find_tree(entry.id()).ok())
        .flatten()
}

/// Names of the entries of `tree` of the given kind.
pub(crate) fn names(tree: &Tree<'_>, kind: ObjectType) -> Vec<String> {
    tree.iter()
        .filter(|e| e.kind() == Some(kind))
        .filter_map(|e| e.name().ok().map(str::to_owned))
        .collect()
}

/// The files that differ from `old` to `new`: path components and the new blob (`None` when
/// deleted). git's diff skips subtrees whose ids match, so unchanged history costs nothing.
pub(crate) fn changed_files(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
) -> Result<Vec<Edit>, git2::Error> {
    let diff = repo.diff_tree_to_tree(old, Some(new), None)?;
    let mut edits = Vec::new();
    for delta in diff.deltas() {
        let (file, blob) = match delta.status() {
            git2::Delta::Deleted => (delta.old_file(), None),
            _ => (delta.new_file(), Some(delta.new_file().id())),
        };
        if let Some(path) = file.path().and_then(|p| p.to_str()) {
            edits.push((path.split('/').map(str::to_owned).collect(), blob));
        }
    }
    Ok(edits)
}
