/**
 * A tiny hand-written WordNet `data.noun` (same line format as WordNet 3.1):
 * license lines, a root without hypernyms, `@` and `@i` hypernym pointers, a synset
 * with two hypernyms, and pointers of other kinds (`~`, `+`, `;c`) that must be
 * ignored, one of them to a synset that is not defined.
 *
 * Taxonomy (child -> hypernyms): physical_entity, abstraction -> entity;
 * object -> physical_entity; whole -> object; causal_agent -> physical_entity;
 * living_thing -> whole; organism -> living_thing; person -> organism, causal_agent;
 * Einstein -(instance)-> person; dog -> organism. Test split (by the offset rule):
 * whole (00003553) and person (00007846).
 */
export const WORDNET_FIXTURE = [
  '  1 This software and database is being provided to you, the LICENSEE, by  ',
  '  2 Princeton University under the following license.  ',
  '00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04431553 n 0000 | that which is perceived or known  ',
  '00001930 03 n 01 physical_entity 0 002 @ 00001740 n 0000 ~ 00002684 n 0000 | an entity that has physical existence  ',
  '00002137 03 n 02 abstraction 0 abstract_entity 0 001 @ 00001740 n 0000 | a general concept formed by extracting common features  ',
  '00002684 03 n 02 object 0 physical_object 0 002 @ 00001930 n 0000 + 01234567 v 0101 | a tangible and visible entity; "it was full of rackets, balls and other objects"  ',
  '00003553 03 n 02 whole 0 unit 0 001 @ 00002684 n 0000 | an assemblage of parts that is regarded as a single entity  ',
  '00007347 03 n 02 causal_agent 0 cause 0 001 @ 00001930 n 0000 | any entity that produces an effect  ',
  '00004258 03 n 02 living_thing 0 animate_thing 0 001 @ 00003553 n 0000 | a living (or once living) entity  ',
  '00004475 03 n 02 organism 0 being 0 001 @ 00004258 n 0000 | a living thing that has (or can develop) the ability to act or function independently  ',
  '00007846 18 n 03 person 0 individual 0 someone 0 003 @ 00004475 n 0000 @ 00007347 n 0000 ;c 00002137 n 0000 | a human being; "there was too much for one person to do"  ',
  '11103952 18 n 02 Einstein 0 Albert_Einstein 0 001 @i 00007846 n 0000 | physicist born in Germany (1879-1955)  ',
  '02086723 05 n 01 dog 0 001 @ 00004475 n 0000 | a member of the genus Canis  ',
].join('\n') + '\n';
