DROP TABLE campaign_dropped;
DROP TABLE campaign_recipients;
DROP TABLE campaigns;
