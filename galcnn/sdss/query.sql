-- SDSS DR14 spectroscopic galaxies with MPA-JHU line fluxes, indices and
-- metallicities: the query of Wu & Boada (2019), draft 002, section 3.
-- Rendered by galcnn.query.render_sql: the select list is galcnn.catalog.SQL_COLUMNS,
-- the cuts are config query.cuts, and each partition is one range of right ascension.
SELECT
  $columns
$into
FROM SpecObj AS S
  JOIN Galaxy AS G ON G.objID = S.bestObjID
  JOIN GalSpecLine AS GSL ON GSL.specObjID = S.specObjID
  JOIN GalSpecInfo AS GSI ON GSI.specObjID = S.specObjID
  JOIN GalSpecIndx AS GSX ON GSX.specObjID = S.specObjID
  JOIN GalSpecExtra AS GSE ON GSE.specObjID = S.specObjID
WHERE $where
