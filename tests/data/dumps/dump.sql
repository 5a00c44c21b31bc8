-- MySQL dump 10.13
/*!40101 SET NAMES utf8 */;
DROP TABLE IF EXISTS `assures`;
CREATE TABLE `assures` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `nom` varchar(64) DEFAULT NULL,
  `prenom` varchar(64) DEFAULT NULL,
  `nir` varchar(21) DEFAULT NULL,
  `note` text,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
LOCK TABLES `assures` WRITE;
INSERT INTO `assures` VALUES (1,'D\'Artagnan','Charles','1 85 03 75 123 456 78',NULL),(2,'O''Neil','Sinéad','285037512345621','a;b),(c'),
(3,'Back\\slash','Line\nBreak',NULL,'x');
INSERT INTO `assures` VALUES (4,'Short','Row');
INSERT INTO `assures` (`id`,`nom`,`prenom`,`nir`,`note`) VALUES (5,'Petit','Zoé','2A0000000000000',NULL);
UNLOCK TABLES;
